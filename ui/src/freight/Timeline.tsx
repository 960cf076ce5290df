// Timeline lists a project's Freight, newest first, by alias (the full
// name on hover), with where each is current, verified and approved (in
// the pipeline's order), and its actions. Only the rows in view are drawn.
// Pointing at a row, with the mouse or the keyboard focus, puts its
// Freight in the pipeline's spotlight.

import { useEffect, useMemo } from "react";
import type { Freight, Stage } from "../api/types";
import { Link } from "../common/Link";
import { age, useNow } from "../common/time";
import { Placements, type Placement } from "./placement";
import { refusal, type Rights } from "./rights";
import { spotlight } from "../pipeline/spotlight";
import { VirtualList } from "./VirtualList";

export type FreightAction = "promote" | "approve" | "rename";

export const rowHeight = 64;

export function Timeline({
  freight,
  stages,
  rights,
  onAction,
  project,
}: {
  // project, when given, makes each alias a link to the Freight's page.
  project?: string;
  freight: Freight[];
  // stages are in pipeline order.
  stages: Stage[];
  rights: Rights;
  onAction: (action: FreightAction, f: Freight, p: Placement) => void;
}) {
  const now = useNow();
  const placements = useMemo(() => new Placements(stages, now), [stages, now]);
  const stageNames = useMemo(() => stages.map((s) => s.metadata.name), [stages]);
  // The spotlight goes out with the timeline.
  useEffect(() => () => spotlight.hide(), []);
  return (
    <section className="timeline" aria-label="Freight timeline">
      <h2>
        Freight <span className="muted">{freight.length}</span>
      </h2>
      {freight.length === 0 ? (
        <p className="muted">No Freight yet: the project's Warehouses have found nothing to bundle.</p>
      ) : (
        <VirtualList
          className="timeline-list"
          label="Freight"
          items={freight}
          rowHeight={rowHeight}
          rowKey={(f) => f.metadata.name}
          renderRow={(f) => <FreightRow f={f} p={placements.of(f)} stages={stageNames} rights={rights} now={now} onAction={onAction} project={project} />}
        />
      )}
    </section>
  );
}

export function displayAlias(f: Freight): string {
  return f.alias || f.metadata.name.slice(0, 7);
}

function artifacts(f: Freight): string {
  const parts = [
    ...(f.images ?? []).map((i) => `${lastSegment(i.repoURL)}:${i.tag ?? i.digest?.slice(0, 19)}`),
    ...(f.commits ?? []).map((c) => `${lastSegment(c.repoURL)}@${c.tag ?? c.id?.slice(0, 7)}`),
    ...(f.charts ?? []).map((c) => `${c.name ?? lastSegment(c.repoURL)}-${c.version}`),
  ];
  return parts.join(", ");
}

function lastSegment(url: string): string {
  return url.replace(/\.git$/, "").split("/").pop() ?? url;
}

function FreightRow({
  f,
  p,
  stages,
  rights,
  now,
  onAction,
  project,
}: {
  project?: string;
  f: Freight;
  p: Placement;
  stages: string[];
  rights: Rights;
  now: number;
  onAction: (action: FreightAction, f: Freight, p: Placement) => void;
}) {
  const alias = displayAlias(f);
  // An action the user may take nowhere is disabled, with the server's
  // reason on hover.
  const noPromote = refusal(p.availableTo, rights.promote);
  const noApprove = refusal(
    stages.filter((s) => !p.approved.includes(s)),
    rights.approve,
  );
  const noRename = rights.rename.allowed ? undefined : (rights.rename.reason ?? "you may not");
  return (
    <div
      className="freight"
      data-freight={f.metadata.name}
      aria-label={`Freight ${alias}`}
      onMouseEnter={() => spotlight.show(f.metadata.name)}
      onMouseLeave={(e) => {
        // Back to the row the keyboard focus is in, if any.
        const focused = document.activeElement?.closest("[data-freight]")?.getAttribute("data-freight");
        if (focused && focused !== f.metadata.name && !e.currentTarget.contains(document.activeElement)) spotlight.show(focused);
        else if (!e.currentTarget.contains(document.activeElement)) spotlight.hide(f.metadata.name);
      }}
      onFocus={() => spotlight.show(f.metadata.name)}
      onBlur={(e) => {
        if (!e.currentTarget.contains(e.relatedTarget as Node | null)) spotlight.hide(f.metadata.name);
      }}
    >
      <div className="freight-main">
        {project ? (
          <Link to={{ page: "project", project, kind: "freight", name: f.metadata.name }} className="alias" title={f.metadata.name}>
            {alias}
          </Link>
        ) : (
          <span className="alias" title={f.metadata.name}>
            {alias}
          </span>
        )}
        <span className="mono muted">{f.metadata.name.slice(0, 7)}</span>
        <span className="muted">{age(f.metadata.creationTimestamp, now)}</span>
        <span className="artifacts" title={artifacts(f)}>
          {artifacts(f)}
        </span>
      </div>
      <div className="freight-where">
        {p.current.map((s) => (
          <span key={`c-${s}`} className="chip current" title={`current in ${s}`}>
            ● {s}
          </span>
        ))}
        {p.verified.map((s) => (
          <span key={`v-${s}`} className="chip verified" title={`verified in ${s}`}>
            ✓ {s}
          </span>
        ))}
        {p.approved.map((s) => (
          <span key={`a-${s}`} className="chip approved" title={`approved for ${s}`}>
            ★ {s}
          </span>
        ))}
        <span className="actions">
          <button type="button" onClick={() => onAction("promote", f, p)} aria-label={`Promote ${alias}`} disabled={!!noPromote} title={noPromote}>
            Promote
          </button>
          <button type="button" onClick={() => onAction("approve", f, p)} aria-label={`Approve ${alias}`} disabled={!!noApprove} title={noApprove}>
            Approve
          </button>
          <button type="button" onClick={() => onAction("rename", f, p)} aria-label={`Rename ${alias}`} disabled={!!noRename} title={noRename}>
            Rename
          </button>
        </span>
      </div>
    </div>
  );
}
