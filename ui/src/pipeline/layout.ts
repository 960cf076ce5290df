// Lays a project's pipeline out left to right: Warehouses first, then each
// Stage one column right of the furthest thing it subscribes to. Within a
// column, nodes are ordered by the mean row of what feeds them, so that
// lines cross as little as a simple rule allows.

import type { Stage, Warehouse } from "../api/types";

export type NodeKind = "warehouse" | "stage";

export interface GraphNode {
  id: string;
  kind: NodeKind;
  name: string;
  column: number;
  row: number;
  x: number;
  y: number;
}

export interface GraphEdge {
  from: string;
  to: string;
}

export interface Layout {
  nodes: GraphNode[];
  edges: GraphEdge[];
  width: number;
  height: number;
}

export const nodeWidth = 232;
export const nodeHeight = 112;
const gapX = 72;
const gapY = 20;

export const warehouseId = (name: string) => `warehouse/${name}`;
export const stageId = (name: string) => `stage/${name}`;

// upstreamOf lists the nodes a Stage subscribes to, as node ids.
export function upstreamOf(s: Stage): string[] {
  const sub = s.spec?.subscriptions;
  if (!sub) return [];
  if (sub.warehouse) return [warehouseId(sub.warehouse)];
  return (sub.upstreamStages ?? []).map((u) => stageId(u.name));
}

// compareNames orders Kubernetes names (lowercase letters, digits, - and
// .) by their characters: the order localeCompare gives them, without
// starting the browser's collator, which costs tens of milliseconds, nor
// paying for it on each of the 130,000 comparisons that sort 10,000 Freight.
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function layout(warehouses: Warehouse[], stages: Stage[]): Layout {
  const kinds = new Map<string, { kind: NodeKind; name: string }>();
  for (const w of warehouses) kinds.set(warehouseId(w.metadata.name), { kind: "warehouse", name: w.metadata.name });
  for (const s of stages) kinds.set(stageId(s.metadata.name), { kind: "stage", name: s.metadata.name });

  // Edges to things that do not exist (a Stage naming a deleted upstream)
  // are left out: the Stage's own status says what is wrong.
  const parents = new Map<string, string[]>();
  const edges: GraphEdge[] = [];
  for (const s of stages) {
    const id = stageId(s.metadata.name);
    const ups = upstreamOf(s).filter((u) => kinds.has(u));
    parents.set(id, ups);
    for (const u of ups) edges.push({ from: u, to: id });
  }

  // column: the longest path from a source. A cycle (which admission
  // refuses, but the UI must not hang on) is cut where it closes.
  const column = new Map<string, number>();
  const visiting = new Set<string>();
  const depth = (id: string): number => {
    const known = column.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0;
    visiting.add(id);
    let d = 0;
    for (const p of parents.get(id) ?? []) d = Math.max(d, depth(p) + 1);
    visiting.delete(id);
    column.set(id, d);
    return d;
  };
  for (const id of kinds.keys()) depth(id);

  const columns: string[][] = [];
  for (const [id, c] of column) (columns[c] ??= []).push(id);

  const row = new Map<string, number>();
  const byName = (a: string, b: string) => {
    const ka = kinds.get(a)!;
    const kb = kinds.get(b)!;
    if (ka.kind !== kb.kind) return ka.kind === "warehouse" ? -1 : 1;
    return compareNames(ka.name, kb.name);
  };
  columns.forEach((ids, c) => {
    if (c === 0) {
      ids.sort(byName);
    } else {
      const mean = (id: string) => {
        const ps = (parents.get(id) ?? []).filter((p) => row.has(p));
        return ps.length === 0 ? Infinity : ps.reduce((sum, p) => sum + row.get(p)!, 0) / ps.length;
      };
      const key = new Map(ids.map((id) => [id, mean(id)]));
      ids.sort((a, b) => key.get(a)! - key.get(b)! || byName(a, b));
    }
    ids.forEach((id, r) => row.set(id, r));
  });

  const nodes: GraphNode[] = [];
  let rows = 0;
  columns.forEach((ids, c) => {
    rows = Math.max(rows, ids.length);
    for (const id of ids) {
      const { kind, name } = kinds.get(id)!;
      const r = row.get(id)!;
      nodes.push({ id, kind, name, column: c, row: r, x: c * (nodeWidth + gapX), y: r * (nodeHeight + gapY) });
    }
  });
  return {
    nodes,
    edges,
    width: columns.length === 0 ? 0 : columns.length * (nodeWidth + gapX) - gapX,
    height: rows === 0 ? 0 : rows * (nodeHeight + gapY) - gapY,
  };
}

// pipelineOrder returns the Stages in the order the pipeline shows them:
// upstream before downstream (left to right), and top to bottom within a
// column. Lists of Stages (where a Freight is, where it may go) use it, so
// that they read like the pipeline rather than the alphabet.
export function pipelineOrder(warehouses: Warehouse[], stages: Stage[]): Stage[] {
  const at = new Map(layout(warehouses, stages).nodes.map((n) => [n.id, n]));
  const key = (s: Stage) => at.get(stageId(s.metadata.name))!;
  return [...stages].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka.column - kb.column || ka.row - kb.row;
  });
}
