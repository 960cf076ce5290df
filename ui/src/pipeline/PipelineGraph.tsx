// PipelineGraph draws a project's Warehouses and Stages left to right,
// with a line from everything a Stage subscribes to.

import { useMemo } from "react";
import type { Freight, Promotion, Stage, Warehouse } from "../api/types";
import { layout, nodeHeight, nodeWidth, stageId, warehouseId } from "./layout";
import { StageCard } from "./StageCard";
import { WarehouseCard } from "./WarehouseCard";

export interface PipelineGraphProps {
  warehouses: Warehouse[];
  stages: Stage[];
  freightByName: Map<string, Freight>;
  promotions: Map<string, Promotion>;
  project?: string;
}

export function PipelineGraph({ warehouses, stages, freightByName, promotions, project }: PipelineGraphProps) {
  // The layout depends only on names and subscriptions; status changes
  // (every promotion) do not move anything.
  const shape = stages.map((s) => `${s.metadata.name}<${JSON.stringify(s.spec?.subscriptions ?? {})}`).join(";");
  const whShape = warehouses.map((w) => w.metadata.name).join(";");
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const l = useMemo(() => layout(warehouses, stages), [shape, whShape]);
  const pos = new Map(l.nodes.map((n) => [n.id, n]));
  const stageByName = new Map(stages.map((s) => [s.metadata.name, s]));
  const whByName = new Map(warehouses.map((w) => [w.metadata.name, w]));

  if (l.nodes.length === 0)
    return <p className="muted">This project has no Warehouses or Stages yet.</p>;

  return (
    <div className="pipeline" role="region" aria-label="Pipeline">
      <div className="pipeline-canvas" style={{ width: l.width, height: l.height }}>
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
          <div key={n.id} className="node" style={{ left: n.x, top: n.y, width: nodeWidth, height: nodeHeight }}>
            {n.kind === "stage" ? (
              <StageCard stage={stageByName.get(n.name)!} freightByName={freightByName} promotions={promotions} project={project} />
            ) : (
              <WarehouseCard warehouse={whByName.get(n.name)!} freightByName={freightByName} project={project} />
            )}
          </div>
        ))}
      </div>
    </div>
  );
}

export { stageId, warehouseId };
