// compare says which artifacts change between the Freight in a Stage and
// another Freight: each image, commit and chart by its repository (and a
// chart by its name too), with what it is in each.

import type { Freight } from "../api/types";

export type Change = "same" | "changed" | "added" | "removed";

export interface ArtifactChange {
  kind: "image" | "commit" | "chart";
  // what the artifact is: its repository (and chart name)
  key: string;
  // the version in the Stage's Freight and in the other, "" when absent
  from: string;
  to: string;
  change: Change;
}

function versions(f: Freight | undefined): Map<string, { kind: ArtifactChange["kind"]; version: string }> {
  const m = new Map<string, { kind: ArtifactChange["kind"]; version: string }>();
  for (const i of f?.images ?? []) m.set(`image ${i.repoURL}`, { kind: "image", version: i.tag || i.digest || "" });
  for (const c of f?.commits ?? []) m.set(`commit ${c.repoURL}`, { kind: "commit", version: c.tag || (c.id ?? "").slice(0, 7) });
  for (const c of f?.charts ?? []) m.set(`chart ${c.repoURL} ${c.name ?? ""}`.trim(), { kind: "chart", version: c.version });
  return m;
}

// compare lists the artifacts of both, the Stage's first, changes before
// the unchanged.
export function compare(inStage: Freight | undefined, other: Freight): ArtifactChange[] {
  const a = versions(inStage);
  const b = versions(other);
  const out: ArtifactChange[] = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const from = a.get(k);
    const to = b.get(k);
    const kind = (from ?? to)!.kind;
    const change: Change = !from ? "added" : !to ? "removed" : from.version === to.version ? "same" : "changed";
    out.push({ kind, key: k.slice(kind.length + 1), from: from?.version ?? "", to: to?.version ?? "", change });
  }
  const rank: Record<Change, number> = { changed: 0, added: 1, removed: 2, same: 3 };
  return out.sort((x, y) => rank[x.change] - rank[y.change]);
}

// commitLink is the web address of a commit of an https repository on a
// host that serves commits at /commit/ID (GitHub, Gitea, GitLab's
// redirect), or undefined.
export function commitLink(repoURL: string, id: string | undefined): string | undefined {
  if (!id || !/^https:\/\//.test(repoURL)) return undefined;
  try {
    const u = new URL(repoURL);
    if (u.username || u.password) return undefined;
    return `${u.origin}${u.pathname.replace(/\.git$/, "").replace(/\/$/, "")}/commit/${encodeURIComponent(id)}`;
  } catch {
    return undefined;
  }
}
