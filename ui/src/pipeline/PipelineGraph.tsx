// PipelineGraph draws a project's Warehouses and Stages left to right,
// with a line from everything a Stage subscribes to.

import { useMemo, useRef, useState } from "react";
import type { Freight, Hold, Promotion, Stage, Warehouse } from "../api/types";
import { layout, nodeHeight, nodeWidth, stageId, warehouseId } from "./layout";
import { StageCard } from "./StageCard";
import { WarehouseCard } from "./WarehouseCard";

export interface PipelineGraphProps {
  warehouses: Warehouse[];
  stages: Stage[];
  freightByName: Map<string, Freight>;
  promotions: Map<string, Promotion>;
  // onAbort asks a Promotion to stop (see StageCard).
  onAbort?: (promotion: string) => void;
  project?: string;
  // freeze is the project's freeze, shown on every Stage card.
  freeze?: Hold | null;
}

export function PipelineGraph({ warehouses, stages, freightByName, promotions, onAbort, project, freeze }: PipelineGraphProps) {
  // The layout depends only on names and subscriptions; status changes
  // (every promotion) do not move anything.
  const shape = stages.map((s) => `${s.metadata.name}<${JSON.stringify(s.spec?.subscriptions ?? {})}`).join(";");
  const whShape = warehouses.map((w) => w.metadata.name).join(";");
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const l = useMemo(() => layout(warehouses, stages), [shape, whShape]);
  const pos = new Map(l.nodes.map((n) => [n.id, n]));
  const stageByName = new Map(stages.map((s) => [s.metadata.name, s]));
  const whByName = new Map(warehouses.map((w) => [w.metadata.name, w]));

  const [zoom, setZoom] = useState(1);
  const [query, setQuery] = useState("");
  const box = useRef<HTMLDivElement>(null);
  const q = query.trim().toLowerCase();
  const matches = q ? l.nodes.filter((n) => n.name.toLowerCase().includes(q)) : [];
  // find scrolls the first match into the middle of the view.
  const find = (value: string) => {
    setQuery(value);
    const v = value.trim().toLowerCase();
    const first = v ? l.nodes.find((n) => n.name.toLowerCase().includes(v)) : undefined;
    if (first && box.current) box.current.scrollTo?.({ left: first.x * zoom - box.current.clientWidth / 2 + (nodeWidth * zoom) / 2, top: first.y * zoom - box.current.clientHeight / 2 });
  };
  const fit = () => {
    if (!box.current) return;
    setZoom(Math.max(0.2, Math.min(1, box.current.clientWidth / l.width, box.current.clientHeight / l.height)));
  };

  if (l.nodes.length === 0)
    return <p className="muted">This project has no Warehouses or Stages yet.</p>;

  const hit = new Set(matches.map((n) => n.id));
  return (
    <div className="pipeline-wrap">
      <div className="pipeline-tools" role="toolbar" aria-label="Pipeline view">
        <input type="search" aria-label="Find a Stage or Warehouse" placeholder="Find…" value={query} onChange={(e) => find(e.target.value)} />
        {q && <span className="muted small" role="status" aria-label="Matches">{matches.length} found</span>}
        <button type="button" className="secondary" aria-label="Zoom out" onClick={() => setZoom((z) => Math.max(0.2, z / 1.25))}>
          −
        </button>
        <span className="small" aria-label="Zoom">{Math.round(zoom * 100)}%</span>
        <button type="button" className="secondary" aria-label="Zoom in" onClick={() => setZoom((z) => Math.min(2, z * 1.25))}>
          +
        </button>
        <button type="button" className="secondary" onClick={fit}>
          Fit
        </button>
      </div>
    <div className="pipeline" role="region" aria-label="Pipeline" ref={box} tabIndex={0}>
      <div style={{ width: l.width * zoom, height: l.height * zoom }}>
      <div className="pipeline-canvas" style={{ width: l.width, height: l.height, transform: `scale(${zoom})`, transformOrigin: "0 0" }}>
        <svg width={l.width} height={l.height} aria-hidden="true" className="edges">
          {l.edges.map((e) => {
            const a = pos.get(e.from)!;
            const b = pos.get(e.to)!;
            const x1 = a.x + nodeWidth;
            const y1 = a.y + nodeHeight / 2;
            const x2 = b.x;
            const y2 = b.y + nodeHeight / 2;
            const mid = (x1 + x2) / 2;
            return <path key={`${e.from}>${e.to}`} d={`M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`} />;
          })}
        </svg>
        {l.nodes.map((n) => (
          <div key={n.id} className={hit.has(n.id) ? "node match" : "node"} style={{ left: n.x, top: n.y, width: nodeWidth, height: nodeHeight }}>
            {n.kind === "stage" ? (
              <StageCard stage={stageByName.get(n.name)!} freightByName={freightByName} promotions={promotions} onAbort={onAbort} project={project} freeze={freeze} />
            ) : (
              <WarehouseCard warehouse={whByName.get(n.name)!} freightByName={freightByName} project={project} />
            )}
          </div>
        ))}
      </div>
      </div>
    </div>
    </div>
  );
}

export { stageId, warehouseId };
