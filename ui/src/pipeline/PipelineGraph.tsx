// PipelineGraph draws a project's Warehouses and Stages left to right,
// with a line from everything a Stage subscribes to. It pans by dragging
// (mouse or pen; touch scrolls it natively) and, when focused, with the
// arrow keys; + and - zoom. While a Freight is in the spotlight (pointed
// at in the timeline) the Stages it is current, verified or approved in
// are highlighted, the rest dimmed, and each Stage card describes to
// assistive technology what the Freight is there.

import { type KeyboardEvent, type PointerEvent, useCallback, useLayoutEffect, useMemo, useRef, useState } from "react";
import type { Freight, Hold, Promotion, Stage, Warehouse } from "../api/types";
import { displayAlias } from "../freight/Timeline";
import { layout, nodeHeight, nodeWidth, stageId, warehouseId } from "./layout";
import { rolesIn, summary, useSpotlight } from "./spotlight";
import { StageCard } from "./StageCard";
import { WarehouseCard } from "./WarehouseCard";

// panStep is how far an arrow key pans, in screen pixels (five times as
// far with Shift).
const panStep = 60;
// dragSlop is how far the pointer must move before a press becomes a drag
// (so that a click on a card stays a click).
const dragSlop = 4;

interface Drag {
  pointer: number;
  x: number;
  y: number;
  left: number;
  top: number;
  moving: boolean;
}

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
  const drag = useRef<Drag | null>(null);
  const [dragging, setDragging] = useState(false);
  // onAbort is usually a new function on every render of the caller: the
  // cards get one that stays the same, so that they redraw only when what
  // they show changes.
  const abort = useRef(onAbort);
  useLayoutEffect(() => {
    abort.current = onAbort;
  });
  const stableAbort = useCallback((name: string) => abort.current?.(name), []);

  const spotName = useSpotlight();
  const spotFreight = spotName ? freightByName.get(spotName) : undefined;
  const spot = useMemo(() => {
    if (!spotFreight) return undefined;
    const roles = rolesIn(spotFreight, stages);
    const alias = displayAlias(spotFreight);
    return { alias, roles, origin: spotFreight.origin?.name, summary: summary(alias, roles) };
  }, [spotFreight, stages]);
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

  const zoomIn = () => setZoom((z) => Math.min(2, z * 1.25));
  const zoomOut = () => setZoom((z) => Math.max(0.2, z / 1.25));

  // Dragging the background or a card (not a link, a button or a field)
  // pans. Touch is left to the browser, which scrolls the region natively
  // and lets a swipe past its edge scroll the page.
  const onPointerDown = (e: PointerEvent<HTMLDivElement>) => {
    if (e.pointerType === "touch" || e.button !== 0 || !box.current) return;
    if ((e.target as Element).closest("a, button, input, select, textarea, label")) return;
    drag.current = { pointer: e.pointerId, x: e.clientX, y: e.clientY, left: box.current.scrollLeft, top: box.current.scrollTop, moving: false };
  };
  const onPointerMove = (e: PointerEvent<HTMLDivElement>) => {
    const d = drag.current;
    const el = box.current;
    if (!d || d.pointer !== e.pointerId || !el) return;
    const dx = e.clientX - d.x;
    const dy = e.clientY - d.y;
    if (!d.moving) {
      if (Math.hypot(dx, dy) < dragSlop) return;
      d.moving = true;
      el.setPointerCapture?.(e.pointerId);
      setDragging(true);
    }
    el.scrollLeft = d.left - dx;
    el.scrollTop = d.top - dy;
  };
  const endDrag = (e: PointerEvent<HTMLDivElement>) => {
    const d = drag.current;
    if (!d || d.pointer !== e.pointerId) return;
    drag.current = null;
    if (d.moving) {
      box.current?.releasePointerCapture?.(e.pointerId);
      setDragging(false);
    }
  };
  // The arrow keys pan the focused region (not a card's link or button
  // within it, whose keys are their own).
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const el = box.current;
    if (!el || e.target !== el || e.altKey || e.ctrlKey || e.metaKey) return;
    const step = e.shiftKey ? panStep * 5 : panStep;
    const by: Record<string, [number, number]> = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (by[e.key]) {
      el.scrollLeft += by[e.key][0];
      el.scrollTop += by[e.key][1];
    } else if (e.key === "+" || e.key === "=") zoomIn();
    else if (e.key === "-") zoomOut();
    else return;
    e.preventDefault();
  };

  if (l.nodes.length === 0)
    return <p className="muted">This project has no Warehouses or Stages yet.</p>;

  const hit = new Set(matches.map((n) => n.id));
  return (
    <div className="pipeline-wrap">
      <div className="pipeline-tools" role="toolbar" aria-label="Pipeline view">
        <input type="search" aria-label="Find a Stage or Warehouse" placeholder="Find…" value={query} onChange={(e) => find(e.target.value)} />
        {q && <span className="muted small" role="status" aria-label="Matches">{matches.length} found</span>}
        <button type="button" className="secondary" aria-label="Zoom out" onClick={zoomOut}>
          −
        </button>
        <span className="small" aria-label="Zoom">{Math.round(zoom * 100)}%</span>
        <button type="button" className="secondary" aria-label="Zoom in" onClick={zoomIn}>
          +
        </button>
        <button type="button" className="secondary" onClick={fit}>
          Fit
        </button>
        <span className="muted small spot-summary" role="status" aria-label="Highlighted Freight">
          {spot?.summary}
        </span>
      </div>
    <p id="pipeline-help" className="sr-only">
      Drag, or use the arrow keys, to pan; plus and minus zoom. Point at a Freight in the timeline to highlight the Stages it is in.
    </p>
    <div
      className={dragging ? "pipeline dragging" : "pipeline"}
      role="region"
      aria-label="Pipeline"
      aria-describedby="pipeline-help"
      ref={box}
      tabIndex={0}
      onPointerDown={onPointerDown}
      onPointerMove={onPointerMove}
      onPointerUp={endDrag}
      onPointerCancel={endDrag}
      onKeyDown={onKeyDown}
    >
      <div style={{ width: l.width * zoom, height: l.height * zoom }}>
      <div className={spot ? "pipeline-canvas spotlit" : "pipeline-canvas"} style={{ width: l.width, height: l.height, transform: `scale(${zoom})`, transformOrigin: "0 0" }}>
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
        {l.nodes.map((n) => {
          const roles = spot && n.kind === "stage" ? spot.roles.get(n.name) : undefined;
          const lit = roles !== undefined || (spot && n.kind === "warehouse" && n.name === spot.origin);
          const cls = ["node", hit.has(n.id) && "match", spot && (lit ? "spot" : "dimmed"), ...(roles ?? []).map((r) => `spot-${r}`)];
          return (
            <div key={n.id} className={cls.filter(Boolean).join(" ")} style={{ left: n.x, top: n.y, width: nodeWidth, height: nodeHeight }}>
              {n.kind === "stage" ? (
                <StageCard
                  stage={stageByName.get(n.name)!}
                  freightByName={freightByName}
                  promotions={promotions}
                  onAbort={onAbort && stableAbort}
                  project={project}
                  freeze={freeze}
                  spotAlias={spot?.alias}
                  spotRoles={spot ? (roles ?? []).join(" ") : undefined}
                />
              ) : (
                <WarehouseCard warehouse={whByName.get(n.name)!} freightByName={freightByName} project={project} />
              )}
              {roles && (
                <span className="spot-tag" aria-hidden="true">
                  {roles.map((r) => ({ current: "● current", verified: "✓ verified", approved: "★ approved" })[r]).join("  ")}
                </span>
              )}
            </div>
          );
        })}
      </div>
      </div>
    </div>
    </div>
  );
}

export { stageId, warehouseId };
