// WarehouseView shows one Warehouse: its subscriptions, why discovery
// fails when it does (its conditions), what its last discovery found, the
// Freight it produced, and Refresh. (Creating Freight by hand from the
// discovered artifacts belongs here once the API offers it.)

import { useState } from "react";
import type { Client } from "../api/client";
import { Link } from "../common/Link";
import { age, useNow } from "../common/time";
import { commitLink } from "../freight/compare";
import { displayAlias } from "../freight/Timeline";
import type { ProjectSnapshot } from "../project/store";

// shown bounds the Freight listed (newest first).
const shown = 20;

export function WarehouseView({
  client,
  project,
  name,
  snap,
  onDone,
  onEdit,
}: {
  client: Client;
  project: string;
  name: string;
  snap: ProjectSnapshot;
  onDone: (o: string) => void;
  onEdit: () => void;
}) {
  const now = useNow();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const wh = snap.warehouses.find((w) => w.metadata.name === name);
  if (!wh) {
    return (
      <section className="detail" aria-label={`Warehouse ${name}`}>
        <h2>Warehouse {name}</h2>
        <p className="muted">This project has no Warehouse {name}.</p>
      </section>
    );
  }
  const subs = wh.spec.subscriptions ?? {};
  const conditions = wh.status?.conditions ?? [];
  const ready = conditions.find((c) => c.type === "Ready");
  const found = wh.status?.discoveredArtifacts;
  const produced = snap.freight.filter((f) => f.origin?.kind === "Warehouse" && f.origin.name === name);
  const refresh = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await client.refresh(project, "warehouses", name);
      onDone(`Refreshing Warehouse ${name}`);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="detail" aria-label={`Warehouse ${name}`}>
      <header className="detail-head">
        <h2>Warehouse {name}</h2>
        <span className={`badge ${ready?.status === "True" ? "health-healthy" : ready?.status === "False" ? "health-unhealthy" : ""}`} aria-label="Ready">
          {ready?.status === "True" ? "Ready" : ready?.status === "False" ? "Not ready" : "Unknown"}
        </span>
      </header>
      <div className="actions-bar" role="group" aria-label="Warehouse actions">
        <button type="button" className="secondary" onClick={onEdit}>
          Edit YAML
        </button>
        <button type="button" className="secondary" disabled={busy} onClick={refresh}>
          Refresh
        </button>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {ready?.status === "False" && (
        <p className="error" aria-label="Discovery error">
          {ready.message ?? ready.reason}
        </p>
      )}

      <div className="detail-grid">
        <section aria-label="Subscriptions">
          <h3>Subscriptions</h3>
          <ul className="plain">
            {(subs.images ?? []).map((i) => (
              <li key={`i ${i.repoURL}`}>
                <span className="badge">image</span> <span className="mono">{i.repoURL}</span>{" "}
                <span className="muted small">{[i.semverConstraint && `semver ${i.semverConstraint}`, i.imageSelectionStrategy].filter(Boolean).join(" · ")}</span>
              </li>
            ))}
            {(subs.git ?? []).map((g) => (
              <li key={`g ${g.repoURL}`}>
                <span className="badge">git</span> <span className="mono">{g.repoURL}</span> <span className="muted small">{g.branch ? `branch ${g.branch}` : ""}</span>
              </li>
            ))}
            {(subs.charts ?? []).map((c) => (
              <li key={`c ${c.repoURL} ${c.name}`}>
                <span className="badge">chart</span> <span className="mono">{c.name ? `${c.repoURL} ${c.name}` : c.repoURL}</span>{" "}
                <span className="muted small">{c.semverConstraint ? `semver ${c.semverConstraint}` : ""}</span>
              </li>
            ))}
          </ul>
        </section>
        <section aria-label="Conditions">
          <h3>Conditions</h3>
          <ul className="plain">
            {conditions.map((c) => (
              <li key={c.type}>
                <span className="mono">{c.type}</span> {c.status} <span className="muted small">{c.reason}</span>
                {c.message && <div className="small">{c.message}</div>}
              </li>
            ))}
          </ul>
        </section>
      </div>

      <section aria-label="Discovered artifacts">
        <h3>Discovered {found?.discoveredAt ? <span className="muted small">{age(found.discoveredAt, now)} ago</span> : null}</h3>
        {!found ? (
          <p className="muted">Nothing discovered yet.</p>
        ) : (
          <ul className="plain">
            {(found.images ?? []).map((i) => (
              <li key={`i ${i.repoURL} ${i.tag} ${i.digest}`}>
                <span className="badge">image</span> <span className="mono">{i.repoURL}:{i.tag}</span>
              </li>
            ))}
            {(found.commits ?? []).map((c) => {
              const href = commitLink(c.repoURL, c.id);
              const label = c.tag || (c.id ?? "").slice(0, 7);
              return (
                <li key={`c ${c.repoURL} ${c.id}`}>
                  <span className="badge">commit</span> <span className="mono">{c.repoURL}</span>{" "}
                  {href ? (
                    <a href={href} className="mono" target="_blank" rel="noreferrer noopener">
                      {label}
                    </a>
                  ) : (
                    <span className="mono">{label}</span>
                  )}{" "}
                  <span className="muted small">{(c.message ?? "").split("\n")[0]}</span>
                </li>
              );
            })}
            {(found.charts ?? []).map((c) => (
              <li key={`h ${c.repoURL} ${c.name} ${c.version}`}>
                <span className="badge">chart</span> <span className="mono">{c.name ?? c.repoURL}</span> {c.version}
              </li>
            ))}
          </ul>
        )}
      </section>

      <section aria-label="Freight produced">
        <h3>
          Freight <span className="muted">{produced.length}</span>
        </h3>
        <ul className="plain">
          {produced.slice(0, shown).map((f) => (
            <li key={f.metadata.name}>
              <Link to={{ page: "project", project, kind: "freight", name: f.metadata.name }} className="alias" title={f.metadata.name}>
                {displayAlias(f)}
              </Link>{" "}
              <span className="muted small">{age(f.metadata.creationTimestamp, now)} ago</span>
            </li>
          ))}
        </ul>
      </section>
    </section>
  );
}
