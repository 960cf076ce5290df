// PromotionView shows one Promotion as it runs: its phase, each step's
// state, message and outputs (the step engine's record in status.steps and
// status.state), and the commits it made with their diffs, read from the
// Git server by the API server. The Promotion comes from the project's
// watch, so the view follows it live; the commits are read again whenever
// a step ends.

import { useEffect, useState } from "react";
import type { Client } from "../api/client";
import type { Freight, Promotion, PromotionCommits } from "../api/types";
import { Link } from "../common/Link";
import { age, duration, useNow } from "../common/time";
import { displayAlias } from "../freight/Timeline";
import { CommitDiff } from "./Diff";
import { outputText, stepRows } from "./steps";

const createdBy = "kargo.akuity.io/create-actor";

type Commits = { status: "loading" } | { status: "error"; message: string } | { status: "ok"; data: PromotionCommits };

export function PromotionView({
  client,
  project,
  name,
  promotion,
  freightByName,
}: {
  client: Client;
  project: string;
  name: string;
  promotion: Promotion | undefined;
  freightByName: Map<string, Freight>;
}) {
  const now = useNow(1000);
  const [commits, setCommits] = useState<Commits>({ status: "loading" });
  const phase = promotion?.status?.phase ?? "Pending";
  const ended = (promotion?.status?.steps ?? []).filter((s) => s.status !== "Running").length;
  // A push happens within a step: read the commits again when a step ends
  // or the phase changes.
  const readKey = `${promotion?.metadata.uid ?? ""}|${phase}|${ended}`;
  useEffect(() => {
    if (!promotion) return;
    const abort = new AbortController();
    client.promotionCommits(project, name, abort.signal).then(
      (data) => setCommits({ status: "ok", data }),
      (e: Error) => {
        if (!abort.signal.aborted) setCommits({ status: "error", message: e.message });
      },
    );
    return () => abort.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, project, name, readKey]);

  if (!promotion) {
    return (
      <section className="detail" aria-label={`Promotion ${name}`}>
        <h2>Promotion {name}</h2>
        <p className="muted">This project has no Promotion {name}: it may have been garbage collected.</p>
      </section>
    );
  }
  const st = promotion.status ?? {};
  const f = freightByName.get(promotion.spec.freight);
  const rows = stepRows(promotion);
  const running = phase === "Running" || phase === "Pending";
  return (
    <section className="detail" aria-label={`Promotion ${name}`}>
      <header className="detail-head">
        <h2>Promotion {name}</h2>
        <span className={`badge phase-${phase.toLowerCase()}`} aria-label="Phase">
          {running && <span className="spinner" aria-hidden="true" />} {phase}
        </span>
      </header>
      <dl className="facts">
        <dt>Stage</dt>
        <dd>
          <Link to={{ page: "project", project, kind: "stages", name: promotion.spec.stage }}>{promotion.spec.stage}</Link>
        </dd>
        <dt>Freight</dt>
        <dd>
          <Link to={{ page: "project", project, kind: "freight", name: promotion.spec.freight }} title={promotion.spec.freight}>
            {f ? displayAlias(f) : promotion.spec.freight}
          </Link>
        </dd>
        <dt>By</dt>
        <dd>{promotion.metadata.annotations?.[createdBy] ?? "unknown"}</dd>
        <dt>Created</dt>
        <dd title={promotion.metadata.creationTimestamp}>{age(promotion.metadata.creationTimestamp, now)} ago</dd>
        {st.startTime && (
          <>
            <dt>Duration</dt>
            <dd aria-label="Duration">{duration(st.startTime, st.completionTime, now)}</dd>
          </>
        )}
      </dl>
      {st.message && (
        <p className={phase === "Failed" || phase === "Errored" ? "error" : "muted"} aria-label="Message">
          {st.message}
        </p>
      )}

      <h3>Steps</h3>
      {rows.length === 0 ? (
        <p className="muted">This Promotion ran its Stage's promotionMechanisms, which have no steps; the message above says what they did.</p>
      ) : (
        <ol className="steps" aria-label="Steps">
          {rows.map((r) => (
            <li key={r.alias} className={`step step-${r.state.toLowerCase()}`} aria-label={`Step ${r.alias}`}>
              <div className="step-head">
                <span className={`badge phase-${r.state.toLowerCase()}`} aria-label="State">
                  {r.state === "Running" && <span className="spinner" aria-hidden="true" />} {r.state}
                </span>
                <span className="mono">{r.alias}</span>
                {r.uses && <span className="muted">{r.uses}</span>}
                {r.startedAt && <span className="muted small">{duration(r.startedAt, r.finishedAt, now)}</span>}
                {(r.errorCount ?? 0) > 0 && <span className="error small">{r.errorCount} errors</span>}
              </div>
              {r.message && <div className="step-message">{r.message}</div>}
              {r.outputs && Object.keys(r.outputs).length > 0 && (
                <dl className="outputs" aria-label={`Outputs of ${r.alias}`}>
                  {Object.entries(r.outputs).map(([k, v]) => (
                    <div key={k}>
                      <dt className="mono">{k}</dt>
                      <dd className="mono">{outputText(v)}</dd>
                    </div>
                  ))}
                </dl>
              )}
            </li>
          ))}
        </ol>
      )}

      <h3>Commits</h3>
      <div aria-label="Commits" aria-busy={commits.status === "loading"}>
        {commits.status === "loading" && <p className="muted">Reading the commits from the Git server…</p>}
        {commits.status === "error" && (
          <p className="error" role="alert">
            {commits.message}
          </p>
        )}
        {commits.status === "ok" && (
          <>
            {commits.data.commits.length === 0 && (
              <p className="muted">{running ? "No commit yet." : "This Promotion made no commit that the server could find."}</p>
            )}
            {commits.data.commits.map((c) => (
              <CommitDiff key={`${c.repoURL} ${c.id}`} commit={c} now={now} />
            ))}
            {(commits.data.notes ?? []).map((n) => (
              <p key={n} className="muted small">
                {n}
              </p>
            ))}
          </>
        )}
      </div>
    </section>
  );
}
