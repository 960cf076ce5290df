// StageCard shows a Stage: its current Freight (by alias; the full name on
// hover), health, phase, and the promotion under way.

import type { ReactNode } from "react";
import type { Freight, Promotion, SimpleFreight, Stage } from "../api/types";
import { Link } from "../common/Link";
import type { DetailKind } from "../router";

export function aliasOf(ref: SimpleFreight | undefined, freightByName: Map<string, Freight>): string {
  if (!ref) return "";
  // The Freight's own alias is the newest: a rename shows at once.
  return freightByName.get(ref.id)?.alias || ref.alias || ref.id.slice(0, 7);
}

export function StageCard({
  stage,
  freightByName,
  promotions,
  project,
}: {
  stage: Stage;
  freightByName: Map<string, Freight>;
  promotions: Map<string, Promotion>;
  // project, when given, makes the Stage and its promotions links to
  // their pages.
  project?: string;
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
  return (
    <article className={`card stage health-${health.toLowerCase()}`} aria-label={`Stage ${stage.metadata.name}`}>
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
          )}
        </div>
      )}
      {failed && (
        <div className="error small" title={lastPromo?.status?.message}>
          {to("promotions", last.name, <>Last promotion {last.phase}</>)}: {lastPromo?.status?.message ?? last.name}
        </div>
      )}
    </article>
  );
}
