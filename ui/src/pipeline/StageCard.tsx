// StageCard shows a Stage: its current Freight (by alias; the full name on
// hover), health, phase, the promotion under way, and what stops promotions
// into it: its hold, or the project's freeze, and what its promotion
// windows say (WindowBadge, from the gates the project view reads). While a
// Freight is in the pipeline's spotlight, the card describes what that
// Freight is here.

import { memo, type ReactNode } from "react";
import type { Freight, Hold, Promotion, SimpleFreight, Stage } from "../api/types";
import { Link } from "../common/Link";
import type { DetailKind } from "../router";
import { WindowBadge } from "../windows/WindowGate";
import { describeSpot, type Role } from "./spotlight";

// StopBadge names a hold or a freeze, who set it and why (the whole reason
// and the time on hover).
function StopBadge({ kind, stop }: { kind: "Held" | "Frozen"; stop: Hold }) {
  return (
    <div className="stop" role="note" aria-label={kind} title={`${stop.reason}\n${kind.toLowerCase()} by ${stop.by} at ${stop.at}`}>
      <span className="badge stopped">{kind}</span> by {stop.by}: {stop.reason}
    </div>
  );
}

export function aliasOf(ref: SimpleFreight | undefined, freightByName: Map<string, Freight>): string {
  if (!ref) return "";
  // The Freight's own alias is the newest: a rename shows at once.
  return freightByName.get(ref.id)?.alias || ref.alias || ref.id.slice(0, 7);
}

// StageCard redraws only when what it is given changes: a pipeline of 200
// Stages redraws the one whose status a watch event changed.
export const StageCard = memo(function StageCard({
  stage,
  freightByName,
  promotions,
  freeze,
  onAbort,
  project,
  spotAlias,
  spotRoles,
}: {
  stage: Stage;
  freightByName: Map<string, Freight>;
  promotions: Map<string, Promotion>;
  // freeze is the project's freeze, when the view has read it.
  freeze?: Hold | null;
  // onAbort, when given, offers to abort the running Promotion and those
  // waiting for approval.
  onAbort?: (promotion: string) => void;
  // project, when given, makes the Stage and its promotions links to
  // their pages.
  project?: string;
  // spotAlias and spotRoles, while a Freight is in the spotlight, are its
  // alias and what it is here (space-separated Roles; empty: nothing).
  spotAlias?: string;
  spotRoles?: string;
}) {
  const to = (kind: DetailKind, name: string, children: ReactNode, label?: string) =>
    project ? (
      <Link to={{ page: "project", project, kind, name }} label={label}>
        {children}
      </Link>
    ) : (
      children
    );
  const st = stage.status ?? {};
  const health = st.health?.status ?? "Unknown";
  const running = st.currentPromotion;
  const last = st.lastPromotion;
  const lastPromo = last ? promotions.get(last.name) : undefined;
  const failed = last && (last.phase === "Failed" || last.phase === "Errored") && !running;
  const waiting = [...promotions.values()].filter(
    (p) => p.spec.stage === stage.metadata.name && p.status?.phase !== "Running" && p.status?.approval && !p.metadata.annotations?.["kargo.akuity.io/abort"],
  );
  const abortButton = (name: string) =>
    onAbort && (
      <button type="button" className="link" aria-label={`Abort ${name}`} onClick={() => onAbort(name)}>
        Abort
      </button>
    );
  const spotId = `spot-${stage.metadata.name}`;
  const spot = spotAlias !== undefined && spotRoles !== undefined ? describeSpot(spotAlias, (spotRoles ? spotRoles.split(" ") : []) as Role[]) : undefined;
  return (
    <article
      className={`card stage health-${health.toLowerCase()}`}
      aria-label={`Stage ${stage.metadata.name}`}
      aria-describedby={spot ? spotId : undefined}
    >
      {spot && (
        <span id={spotId} className="sr-only">
          {spot}
        </span>
      )}
      <header>
        <h3>{to("stages", stage.metadata.name, stage.metadata.name, `Open Stage ${stage.metadata.name}`)}</h3>
        <span className={`badge health-${health.toLowerCase()}`} aria-label="Health" title={st.health?.issues?.join("\n")}>
          {health}
        </span>
      </header>
      <div className="current" aria-label="Current Freight">
        {st.currentFreight ? (
          <span className="alias" title={st.currentFreight.id}>
            {aliasOf(st.currentFreight, freightByName)}
          </span>
        ) : (
          <span className="muted">no Freight yet</span>
        )}
      </div>
      <div className="phase">
        <span aria-label="Phase">{st.phase ?? "NotApplicable"}</span>
        {st.verification && st.verification.phase !== "Successful" && (
          <span className="muted" title={st.verification.message}>
            {" "}
            · verification {st.verification.phase}
          </span>
        )}
      </div>
      {st.hold && <StopBadge kind="Held" stop={st.hold} />}
      {!st.hold && freeze && <StopBadge kind="Frozen" stop={freeze} />}
      <WindowBadge stage={stage.metadata.name} />
      {running && (
        <div className="promoting" role="status" aria-label="Running promotion" title={running.name}>
          <span className="spinner" aria-hidden="true" />{" "}
          {to(
            "promotions",
            running.name,
            <>
              Promoting {aliasOf(running.freight, freightByName)}
              {running.phase ? ` · ${running.phase}` : ""}
            </>,
          )}{" "}
          {abortButton(running.name)}
        </div>
      )}
      {waiting.map((p) => (
        <div key={p.metadata.name} className="muted small" role="status" aria-label="Waiting for approval" title={p.status?.approval?.missing}>
          {p.metadata.name} waits for approval {abortButton(p.metadata.name)}
        </div>
      ))}
      {failed && (
        <div className="error small" title={lastPromo?.status?.message}>
          {to("promotions", last.name, <>Last promotion {last.phase}</>)}: {lastPromo?.status?.message ?? last.name}
        </div>
      )}
    </article>
  );
});
