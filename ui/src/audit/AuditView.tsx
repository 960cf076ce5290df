// AuditView shows a project's audit trail, newest first: who (user and
// groups), when, what, on which object, and how it ended. It filters by
// Stage and by period, pages ("Show older"), reads the newest records
// again every 15 s while the page is visible (or on Refresh), and exports
// what the filters select as JSON lines, the CLI's -o jsonl. A user who
// may not read the trail sees the server's reason, word for word.

import { useCallback, useEffect, useRef, useState } from "react";
import type { ApiError } from "../api/client";
import type { AuditRecord, Stage } from "../api/types";
import { Link } from "../common/Link";
import { age, useNow } from "../common/time";
import type { DetailKind } from "../router";
import type { Session } from "../session";
import { emptyText, exportCommand, exportFile, jsonLines, sinces, targetOf } from "./audit";

// pageSize is how many records a page shows; refreshInterval how often
// the newest are read again.
const pageSize = 50;
const refreshInterval = 15_000;
// exportLimit is the page size of the export: the API's largest.
const exportLimit = 5000;

const kindPages: Record<string, DetailKind> = { Stage: "stages", Promotion: "promotions", Freight: "freight", Warehouse: "warehouses" };

interface Shown {
  // query is the filters the records answer.
  query: string;
  records: AuditRecord[];
  next?: string;
  total: number;
  at: number;
}

export function AuditView({
  session,
  project,
  stage: initialStage,
  onUnauthorized,
}: {
  session: Session;
  project: string;
  stage?: string;
  onUnauthorized: () => void;
}) {
  const c = session.client;
  const now = useNow(5_000);
  // typed is the Stage filter as typed; stage, as applied once typing
  // pauses, so that each keystroke is not a request.
  const [typed, setTyped] = useState(initialStage ?? "");
  const [stage, setStage] = useState(initialStage ?? "");
  useEffect(() => {
    const t = setTimeout(() => setStage(typed), 300);
    return () => clearTimeout(t);
  }, [typed]);
  const [since, setSince] = useState("");
  const [shown, setShown] = useState<Shown | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [auto, setAuto] = useState(true);
  const [stageNames, setStageNames] = useState<string[]>([]);
  const [exporting, setExporting] = useState<string>();
  // generation discards the answers of a query the filters replaced.
  const generation = useRef(0);
  const count = useRef(pageSize);

  useEffect(() => {
    const abort = new AbortController();
    c.listAll<Stage>(project, "stages", abort.signal).then(
      (stages) => setStageNames(stages.map((s) => s.metadata.name)),
      () => {
        // The Stage filter is then typed, not chosen.
      },
    );
    return () => abort.abort();
  }, [c, project]);

  const fail = useCallback(
    (e: ApiError) => {
      if (e.unauthorized) onUnauthorized();
      else setError(e);
    },
    [onUnauthorized],
  );

  // load reads the newest records the view shows (at least a page), in
  // place of what it showed.
  const load = useCallback(
    (limit: number) => {
      const gen = ++generation.current;
      c.auditPage(project, { stage, since, limit: Math.min(Math.max(limit, pageSize), exportLimit) })
        .then(
          (l) => {
            if (gen !== generation.current) return;
            setError(null);
            count.current = l.items.length;
            setShown({ query: `${stage}\u0000${since}`, records: l.items, next: l.continue, total: l.total, at: Date.now() });
          },
          (e: ApiError) => gen === generation.current && fail(e),
        )
        .finally(() => gen === generation.current && setBusy(false));
    },
    [c, project, stage, since, fail],
  );

  // A new filter starts from the newest page; the address keeps the Stage.
  useEffect(() => {
    count.current = pageSize;
    load(pageSize);
    const path = `/projects/${encodeURIComponent(project)}/audit${stage ? `?${new URLSearchParams({ stage })}` : ""}`;
    if (window.location.pathname + window.location.search !== path) window.history.replaceState(null, "", path);
  }, [load, project, stage]);

  useEffect(() => {
    if (!auto) return;
    const t = setInterval(() => {
      if (document.visibilityState === "visible") load(count.current);
    }, refreshInterval);
    return () => clearInterval(t);
  }, [auto, load]);

  const more = () => {
    if (!shown?.next) return;
    const gen = generation.current;
    setBusy(true);
    c.auditPage(project, { stage, since, limit: pageSize, cont: shown.next })
      .then(
        (l) => {
          if (gen !== generation.current) return;
          const have = new Set(shown.records.map((r) => r.metadata.name));
          const records = [...shown.records, ...l.items.filter((r) => !have.has(r.metadata.name))];
          count.current = records.length;
          setShown({ ...shown, records, next: l.continue, total: l.total });
        },
        (e: ApiError) => gen === generation.current && fail(e),
      )
      .finally(() => gen === generation.current && setBusy(false));
  };

  const exportLines = async () => {
    setExporting("Exporting…");
    try {
      const records: AuditRecord[] = [];
      let cont: string | undefined;
      do {
        const l = await c.auditPage(project, { stage, since, limit: exportLimit, cont });
        records.push(...l.items);
        cont = l.continue;
      } while (cont);
      const url = URL.createObjectURL(new Blob([jsonLines(records)], { type: "application/jsonl" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = exportFile(project, stage, since);
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setExporting(`Exported ${records.length} record${records.length === 1 ? "" : "s"} to ${a.download}`);
    } catch (e) {
      setExporting(undefined);
      fail(e as ApiError);
    }
  };

  const current = shown?.query === `${stage}\u0000${since}` ? shown : null;
  return (
    <div className="project of-one">
      <div className="project-head">
        <h1>
          <Link to={{ page: "project", project }}>{project}</Link>
        </h1>
        <span className="crumb" aria-label="Showing">
          › Audit trail{stage ? ` of Stage ${stage}` : ""}
        </span>
        <span className={`live ${auto && !error ? "on" : "off"}`} role="status" aria-label="Updates">
          {error ? "not read" : !auto ? "paused" : shown ? `refreshed ${age(new Date(shown.at).toISOString(), now)} ago` : "reading…"}
        </span>
      </div>
      <section className="detail audit" aria-label="Audit trail">
        <form className="actions-bar" role="search" aria-label="Filter the audit trail" onSubmit={(e) => e.preventDefault()}>
          <label htmlFor="audit-stage" className="inline">
            Stage
          </label>
          <input
            id="audit-stage"
            list="audit-stages"
            value={typed}
            placeholder="every Stage"
            onChange={(e) => setTyped(e.target.value.trim())}
            size={16}
          />
          <datalist id="audit-stages">
            {stageNames.map((n) => (
              <option key={n} value={n} />
            ))}
          </datalist>
          <label htmlFor="audit-since" className="inline">
            Since
          </label>
          <select id="audit-since" value={since} onChange={(e) => setSince(e.target.value)}>
            {sinces.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
          <button
            type="button"
            className="secondary"
            disabled={busy}
            onClick={() => {
              setBusy(true);
              load(count.current);
            }}
          >
            Refresh
          </button>
          <label className="inline">
            <input type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} /> every 15 s
          </label>
          <button type="button" className="secondary" disabled={!!error || exporting === "Exporting…"} onClick={() => void exportLines()}>
            Export JSON lines
          </button>
        </form>
        <p className="muted small">
          The same export from the command line: <code>{exportCommand(project, stage, since)}</code>
        </p>
        {exporting && (
          <p className="small" role="status">
            {exporting}
          </p>
        )}
        {error ? (
          <div role="alert" className="refusal">
            <h2>{error.forbidden ? "You may not read this project's audit trail" : "The audit trail could not be read"}</h2>
            <p className="error">{error.message}</p>
          </div>
        ) : !current ? (
          <p className="muted">Reading the audit trail…</p>
        ) : current.records.length === 0 ? (
          <p className="muted" role="status">
            {emptyText(stage, since)}
          </p>
        ) : (
          <>
            <p className="muted small" role="status" aria-label="Records shown">
              {current.records.length} of {current.total} record{current.total === 1 ? "" : "s"}, newest first
            </p>
            <table className="history audit-table">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Who</th>
                  <th scope="col">Action</th>
                  <th scope="col">Target</th>
                  <th scope="col">Outcome</th>
                </tr>
              </thead>
              <tbody>
                {current.records.map((r) => (
                  <Row key={r.metadata.name} r={r} project={project} now={now} />
                ))}
              </tbody>
            </table>
            {current.next && (
              <button type="button" className="secondary" disabled={busy} onClick={more}>
                Show older
              </button>
            )}
          </>
        )}
      </section>
    </div>
  );
}

function Row({ r, project, now }: { r: AuditRecord; project: string; now: number }) {
  const groups = r.actor.groups ?? [];
  const page = kindPages[r.target.kind];
  const details = Object.entries(r.details ?? {});
  const result = r.outcome.result;
  return (
    <tr aria-label={`${r.action} by ${r.actor.username}`}>
      <td>
        <time dateTime={r.time} title={new Date(r.time).toLocaleString()}>
          {age(r.time, now)} ago
        </time>
      </td>
      <td>
        <div>{r.actor.username}</div>
        {groups.length > 0 && (
          <div className="muted small" title={groups.join("\n")} aria-label="Groups">
            {groups.join(", ")}
          </div>
        )}
      </td>
      <td>
        <div>{r.action}</div>
        {details.map(([k, v]) => (
          <div key={k} className="muted small">
            {k}: {v}
          </div>
        ))}
      </td>
      <td>
        {page && r.target.name ? <Link to={{ page: "project", project, kind: page, name: r.target.name }}>{targetOf(r)}</Link> : targetOf(r)}
        {r.target.stage && r.target.kind !== "Stage" && <div className="muted small">Stage {r.target.stage}</div>}
      </td>
      <td>
        <span className={`badge outcome-${result.toLowerCase()}`}>{result}</span>
        {result !== "Succeeded" && <span className="muted small"> {r.outcome.code}</span>}
        {r.outcome.message && <div className="small">{r.outcome.message}</div>}
      </td>
    </tr>
  );
}
