// StageView shows one Stage: its current Freight per origin, its health
// with each Argo CD Application it updates, its verifications with each
// check's result, its promotion history, and the actions promote,
// re-verify and refresh. Each action reports the server's refusal word for
// word. What its promotion windows say shows above the actions, and a
// window that closes the Stage disables Promote, with why, for someone
// who may not override it (and makes the override explicit for someone
// who may). (Holds, aborting a promotion and approval policies belong here
// too once the API has them: the actions bar has room for them.)

import { type FormEvent, useMemo, useState } from "react";
import type { Client } from "../api/client";
import type { Freight, Stage } from "../api/types";
import { Link } from "../common/Link";
import { age, duration, useNow } from "../common/time";
import { available } from "../freight/placement";
import type { Rights } from "../freight/rights";
import { displayAlias } from "../freight/Timeline";
import type { ProjectSnapshot } from "../project/store";
import { navigate } from "../router";
import { promoteGate } from "../windows/gates";
import { useGate, WindowNote } from "../windows/WindowGate";
import { commitsOf, createdBy, stagePromotions } from "./history";

type VerificationInfo = NonNullable<NonNullable<Stage["status"]>["verification"]>;

// maxOffered bounds the Freight the promote form lists (newest first).
const maxOffered = 200;

export function StageView({
  client,
  project,
  name,
  snap,
  rights,
  onDone,
  onEdit,
}: {
  client: Client;
  project: string;
  name: string;
  snap: ProjectSnapshot;
  rights: Rights;
  onDone: (outcome: string) => void;
  onEdit: () => void;
}) {
  const now = useNow();
  const stage = snap.stages.find((s) => s.metadata.name === name);
  const history = useMemo(() => stagePromotions(snap.promotions, name), [snap.promotions, name]);
  const offered = useMemo(
    () => (stage ? snap.freight.filter((f) => available(stage, f, now)).slice(0, maxOffered) : []),
    [stage, snap.freight, now],
  );
  const [choice, setChoice] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  // The reason being typed for a hold; undefined while no hold is asked.
  const [holdReason, setHoldReason] = useState<string>();
  // What the Stage's promotion windows do to the Promote button.
  const windows = promoteGate(useGate(name).gate);

  if (!stage) {
    return (
      <section className="detail" aria-label={`Stage ${name}`}>
        <h2>Stage {name}</h2>
        <p className="muted">This project has no Stage {name}.</p>
      </section>
    );
  }
  const st = stage.status ?? {};
  const health = st.health?.status ?? "Unknown";
  const promote = rights.promote(name);
  const act = async (what: () => Promise<string>) => {
    setBusy(true);
    setError(undefined);
    try {
      onDone(await what());
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const selected = snap.freightByName.get(choice) ?? offered[0];
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!selected) return;
    void act(async () => {
      const p = await client.promote(project, name, selected.metadata.name, windows.kind === "override");
      // Watch it run.
      navigate({ page: "project", project, kind: "promotions", name: p.metadata.name });
      return `Promoting ${displayAlias(selected)} to ${name} (Promotion ${p.metadata.name})`;
    });
  };
  const byOrigin = st.currentFreightByOrigin?.length ? st.currentFreightByOrigin : st.currentFreight ? [st.currentFreight] : [];
  // Each Application as the Stage controller last read it; before its
  // first reading, the ones the Stage's mechanisms name, as Unknown.
  const named = (stage.spec?.promotionMechanisms?.argoCDAppUpdates ?? []).map((u) => ({
    namespace: u.appNamespace ?? "argocd",
    name: u.appName,
    status: "Unknown",
    message: undefined as string | undefined,
    healthStatus: undefined as string | undefined,
    syncStatus: undefined as string | undefined,
    revisions: undefined as string[] | undefined,
  }));
  const apps = st.health?.applications?.length ? st.health.applications : named;
  const verifications = [...(st.verification ? [st.verification] : []), ...(st.verificationHistory ?? [])];

  return (
    <section className="detail" aria-label={`Stage ${name}`}>
      <header className="detail-head">
        <h2>Stage {name}</h2>
        <span className="badge" aria-label="Phase">
          {st.phase ?? "NotApplicable"}
        </span>
        <span className={`badge health-${health.toLowerCase()}`} aria-label="Health">
          {health}
        </span>
      </header>

      <div className="actions-bar" role="group" aria-label="Stage actions">
        <form onSubmit={submit} className="inline-form">
          <label htmlFor="promote-freight" className="inline">
            Freight
          </label>
          <select id="promote-freight" value={selected?.metadata.name ?? ""} onChange={(e) => setChoice(e.target.value)} disabled={offered.length === 0}>
            {offered.length === 0 && <option value="">none available</option>}
            {offered.map((f) => (
              <option key={f.metadata.name} value={f.metadata.name}>
                {displayAlias(f)}
                {st.currentFreight?.id === f.metadata.name ? " (current)" : ""}
              </option>
            ))}
          </select>
          <button
            type="submit"
            disabled={!promote.allowed || !selected || busy || windows.kind === "blocked"}
            title={!promote.allowed ? promote.reason : windows.kind === "blocked" ? windows.reason : windows.kind === "override" ? windows.note : undefined}
          >
            {windows.kind === "override" && promote.allowed ? "Promote, overriding the window" : "Promote"}
          </button>
        </form>
        <button
          type="button"
          className="secondary"
          disabled={!promote.allowed || !st.currentFreight || busy}
          title={promote.allowed ? undefined : promote.reason}
          onClick={() =>
            act(async () => {
              await client.verify(project, name);
              return `Verifying the current Freight of ${name} again`;
            })
          }
        >
          Re-verify
        </button>
        {st.hold ? (
          <button
            type="button"
            className="secondary"
            disabled={busy}
            onClick={() =>
              act(async () => {
                await client.release(project, name);
                return `Released Stage ${name}: its waiting Promotions run`;
              })
            }
          >
            Release
          </button>
        ) : (
          <button type="button" className="secondary" disabled={busy || holdReason !== undefined} onClick={() => setHoldReason("")}>
            Hold…
          </button>
        )}
        <button type="button" className="secondary" onClick={onEdit}>
          Edit YAML
        </button>
        <Link to={{ page: "audit", project, stage: name }}>Audit trail</Link>
        <button
          type="button"
          className="secondary"
          disabled={busy}
          onClick={() =>
            act(async () => {
              await client.refresh(project, "stages", name);
              return `Refreshing Stage ${name}`;
            })
          }
        >
          Refresh
        </button>
      </div>
      {holdReason !== undefined && !st.hold && (
        <form
          className="inline-form"
          aria-label="Hold the Stage"
          onSubmit={(e) => {
            e.preventDefault();
            const reason = holdReason.trim();
            act(async () => {
              await client.hold(project, name, reason);
              setHoldReason(undefined);
              return `Held Stage ${name}: no Promotion into it starts until it is released`;
            });
          }}
        >
          <label htmlFor="hold-reason" className="inline">
            Why
          </label>
          <input id="hold-reason" value={holdReason} maxLength={1024} required onChange={(e) => setHoldReason(e.target.value)} />
          <button type="submit" disabled={busy || holdReason.trim() === ""}>
            Hold
          </button>
          <button type="button" className="secondary" onClick={() => setHoldReason(undefined)}>
            Cancel
          </button>
        </form>
      )}
      {st.hold && (
        <p className="small" role="note" aria-label="Held">
          Held by {st.hold.by} at {st.hold.at}: {st.hold.reason}. No Promotion into it starts until it is released.
        </p>
      )}
      <WindowNote stage={name} />
      {promote.allowed && windows.kind === "blocked" && (
        <p className="small muted" aria-label="Why Promote is disabled">
          Promote is disabled while the window is closed: {windows.refusal}
        </p>
      )}
      {promote.allowed && windows.kind === "override" && (
        <p className="small" aria-label="Window override">
          {windows.note}
        </p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}

      <div className="detail-grid">
        <section aria-label="Current Freight">
          <h3>Current Freight</h3>
          {byOrigin.length === 0 ? (
            <p className="muted">No Freight yet.</p>
          ) : (
            <ul className="plain">
              {byOrigin.map((ref) => {
                const f = snap.freightByName.get(ref.id);
                return (
                  <li key={ref.id}>
                    <span className="muted">{ref.origin ? `${ref.origin.kind} ${ref.origin.name}: ` : ""}</span>
                    <Link to={{ page: "project", project, kind: "freight", name: ref.id }} className="alias" title={ref.id}>
                      {f ? displayAlias(f) : ref.alias || ref.id.slice(0, 7)}
                    </Link>
                  </li>
                );
              })}
            </ul>
          )}
        </section>

        <section aria-label="Health">
          <h3>Health</h3>
          {apps.length === 0 ? (
            <p className="muted">This Stage updates no Argo CD Application.</p>
          ) : (
            <ul className="plain" aria-label="Applications">
              {apps.map((a) => (
                <li key={`${a.namespace}/${a.name}`}>
                  <span className="mono">{`${a.namespace}/${a.name}`}</span>{" "}
                  <span className={`badge health-${a.status.toLowerCase()}`}>{a.status}</span>
                  {(a.healthStatus || a.syncStatus) && (
                    <span className="small muted">
                      {" "}
                      Argo CD: {[a.healthStatus, a.syncStatus].filter(Boolean).join(", ")}
                      {a.revisions?.length ? ` at ${a.revisions.map((r) => (/^[0-9a-f]{40}$/.test(r) ? r.slice(0, 7) : r)).join(", ")}` : ""}
                    </span>
                  )}
                  {a.message && <div className="small error">{a.message}</div>}
                </li>
              ))}
            </ul>
          )}
          {apps.length === 0 && (st.health?.issues ?? []).map((i) => <p key={i} className="small error">{i}</p>)}
        </section>
      </div>

      <section aria-label="Verifications">
        <h3>Verifications</h3>
        {verifications.length === 0 ? (
          <p className="muted">No verification has run.</p>
        ) : (
          verifications.slice(0, 10).map((v) => <Verification key={v.id} v={v} project={project} freightByName={snap.freightByName} now={now} />)
        )}
      </section>

      <section aria-label="Promotion history">
        <h3>Promotions</h3>
        {history.length === 0 ? (
          <p className="muted">No promotion into this Stage yet.</p>
        ) : (
          <table className="history">
            <thead>
              <tr>
                <th scope="col">Promotion</th>
                <th scope="col">Freight</th>
                <th scope="col">By</th>
                <th scope="col">When</th>
                <th scope="col">Duration</th>
                <th scope="col">Outcome</th>
                <th scope="col">Commits</th>
              </tr>
            </thead>
            <tbody>
              {history.map((p) => {
                const f = snap.freightByName.get(p.spec.freight);
                const phase = p.status?.phase ?? "Pending";
                return (
                  <tr key={p.metadata.name}>
                    <td>
                      <Link to={{ page: "project", project, kind: "promotions", name: p.metadata.name }}>{p.metadata.name}</Link>
                    </td>
                    <td>
                      <Link to={{ page: "project", project, kind: "freight", name: p.spec.freight }} title={p.spec.freight}>
                        {f ? displayAlias(f) : p.spec.freight.slice(0, 7)}
                      </Link>
                    </td>
                    <td>{p.metadata.annotations?.[createdBy] ?? ""}</td>
                    <td title={p.metadata.creationTimestamp}>{age(p.metadata.creationTimestamp, now)} ago</td>
                    <td>{duration(p.status?.startTime, p.status?.completionTime, now)}</td>
                    <td>
                      <span className={`badge phase-${phase.toLowerCase()}`} title={p.status?.message}>
                        {phase}
                      </span>
                    </td>
                    <td>
                      {commitsOf(p).map((c) =>
                        c.url ? (
                          <a key={c.commit} href={c.url} className="mono" title={`${c.branch ?? ""} ${c.commit}`} rel="noreferrer noopener" target="_blank">
                            {c.commit.slice(0, 7)}
                          </a>
                        ) : (
                          <Link key={c.commit} to={{ page: "project", project, kind: "promotions", name: p.metadata.name }} className="mono" title={`${c.branch ?? ""} ${c.commit}`}>
                            {c.commit.slice(0, 7)}
                          </Link>
                        ),
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>
    </section>
  );
}

function Verification({ v, project, freightByName, now }: { v: VerificationInfo; project: string; freightByName: Map<string, Freight>; now: number }) {
  const f = freightByName.get(v.freight);
  return (
    <article className="card verification" aria-label={`Verification ${v.id}`}>
      <header>
        <span>
          <span className={`badge phase-${v.phase.toLowerCase()}`}>{v.phase}</span>{" "}
          <Link to={{ page: "project", project, kind: "freight", name: v.freight }} title={v.freight}>
            {f ? displayAlias(f) : v.freight.slice(0, 7)}
          </Link>
        </span>
        <span className="muted small" title={v.startTime}>
          {v.startTime ? `${age(v.startTime, now)} ago · ${duration(v.startTime, v.finishTime, now)}` : ""}
        </span>
      </header>
      {v.message && <p className="small">{v.message}</p>}
      {(v.checks ?? []).length > 0 && (
        <ul className="plain checks" aria-label="Checks">
          {(v.checks ?? []).map((c) => (
            <li key={c.name}>
              <span className={`badge phase-${c.phase.toLowerCase()}`}>{c.phase}</span> <span className="mono">{c.name}</span>{" "}
              <span className="muted small">
                {c.measurements} measurements, {c.failures} failures
              </span>
              {c.message && <div className="small">{c.message}</div>}
            </li>
          ))}
        </ul>
      )}
      {v.analysisRun && (
        <p className="small muted">
          AnalysisRun {v.analysisRun.name}
          {v.analysisRun.phase ? ` · ${v.analysisRun.phase}` : ""}
        </p>
      )}
    </article>
  );
}
