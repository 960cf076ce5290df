// FreightView shows one Freight: its artifacts (with links where the
// repository has a web page), where it is (current in, verified in,
// approved for, available to), its actions, and what would change in a
// chosen Stage if it were promoted there: which images, commits and charts
// differ from the Freight that Stage holds.

import { useMemo, useState } from "react";
import type { Freight } from "../api/types";
import { Link } from "../common/Link";
import { age, useNow } from "../common/time";
import type { ProjectSnapshot } from "../project/store";
import { commitLink, compare } from "./compare";
import { Placements, type Placement } from "./placement";
import { refusal, type Rights } from "./rights";
import { displayAlias, type FreightAction } from "./Timeline";

export function FreightView({
  project,
  name,
  snap,
  rights,
  onAction,
}: {
  project: string;
  name: string;
  snap: ProjectSnapshot;
  rights: Rights;
  onAction: (action: FreightAction, f: Freight, p: Placement) => void;
}) {
  const now = useNow();
  const f = snap.freightByName.get(name) ?? snap.freight.find((x) => x.alias === name);
  const placement = useMemo(() => (f ? new Placements(snap.stages, now).of(f) : undefined), [f, snap.stages, now]);
  // Compare with the first Stage it is not current in (where promoting it
  // would change something), unless the user chose another.
  const [chosen, setChosen] = useState<string>();
  if (!f || !placement) {
    return (
      <section className="detail" aria-label={`Freight ${name}`}>
        <h2>Freight {name}</h2>
        <p className="muted">This project has no Freight {name}: it may have been garbage collected.</p>
      </section>
    );
  }
  const stageNames = snap.stages.map((s) => s.metadata.name);
  const against = chosen ?? stageNames.find((s) => !placement.current.includes(s)) ?? stageNames[0];
  const stage = snap.stages.find((s) => s.metadata.name === against);
  const inStageRef = stage?.status?.currentFreight;
  const inStage = inStageRef ? snap.freightByName.get(inStageRef.id) : undefined;
  const changes = stage ? compare(inStage, f) : [];
  const stageLink = (s: string) => (
    <Link key={s} to={{ page: "project", project, kind: "stages", name: s }} className="chip">
      {s}
    </Link>
  );
  const promoteRefusal = refusal(placement.availableTo, rights.promote);
  const approveRefusal = refusal(stageNames.filter((s) => !placement.approved.includes(s)), rights.approve);
  const origin = f.origin;

  return (
    <section className="detail" aria-label={`Freight ${displayAlias(f)}`}>
      <header className="detail-head">
        <h2>
          Freight <span className="alias">{displayAlias(f)}</span>
        </h2>
        <span className="muted mono small">{f.metadata.name}</span>
      </header>
      <div className="actions-bar" role="group" aria-label="Freight actions">
        <button type="button" disabled={!!promoteRefusal || placement.availableTo.length === 0} title={promoteRefusal} onClick={() => onAction("promote", f, placement)}>
          Promote…
        </button>
        <button type="button" className="secondary" disabled={!!approveRefusal} title={approveRefusal} onClick={() => onAction("approve", f, placement)}>
          Approve…
        </button>
        <button type="button" className="secondary" disabled={!rights.rename.allowed} title={rights.rename.reason} onClick={() => onAction("rename", f, placement)}>
          Rename…
        </button>
      </div>
      <dl className="facts">
        <dt>Origin</dt>
        <dd>
          {origin?.kind === "Warehouse" ? (
            <Link to={{ page: "project", project, kind: "warehouses", name: origin.name }}>Warehouse {origin.name}</Link>
          ) : (
            `${origin?.kind ?? ""} ${origin?.name ?? ""}`
          )}
        </dd>
        <dt>Created</dt>
        <dd title={f.metadata.creationTimestamp}>{age(f.metadata.creationTimestamp, now)} ago</dd>
        <dt>Current in</dt>
        <dd aria-label="Current in">{placement.current.length ? placement.current.map(stageLink) : <span className="muted">no Stage</span>}</dd>
        <dt>Verified in</dt>
        <dd aria-label="Verified in">{placement.verified.length ? placement.verified.map(stageLink) : <span className="muted">no Stage</span>}</dd>
        <dt>Approved for</dt>
        <dd aria-label="Approved for">{placement.approved.length ? placement.approved.map(stageLink) : <span className="muted">no Stage</span>}</dd>
        <dt>Available to</dt>
        <dd aria-label="Available to">{placement.availableTo.length ? placement.availableTo.map(stageLink) : <span className="muted">no Stage</span>}</dd>
      </dl>

      <section aria-label="Artifacts">
        <h3>Artifacts</h3>
        <ul className="plain">
          {(f.images ?? []).map((i) => (
            <li key={`i ${i.repoURL}`}>
              <span className="badge">image</span> <span className="mono">{i.repoURL}:{i.tag}</span>{" "}
              {i.digest && <span className="muted mono small">{i.digest}</span>}
            </li>
          ))}
          {(f.commits ?? []).map((c) => {
            const href = commitLink(c.repoURL, c.id);
            return (
              <li key={`c ${c.repoURL}`}>
                <span className="badge">commit</span> <span className="mono">{c.repoURL}</span>{" "}
                {href ? (
                  <a href={href} className="mono" target="_blank" rel="noreferrer noopener">
                    {c.tag || (c.id ?? "").slice(0, 7)}
                  </a>
                ) : (
                  <span className="mono">{c.tag || (c.id ?? "").slice(0, 7)}</span>
                )}
                {c.branch && <span className="muted"> on {c.branch}</span>}
                {c.message && <div className="small muted">{c.message.split("\n")[0]}</div>}
              </li>
            );
          })}
          {(f.charts ?? []).map((c) => (
            <li key={`h ${c.repoURL} ${c.name}`}>
              <span className="badge">chart</span> <span className="mono">{c.name ? `${c.repoURL} ${c.name}` : c.repoURL}</span> {c.version}
            </li>
          ))}
        </ul>
      </section>

      <section aria-label="Compare with a Stage">
        <h3>Compared with a Stage</h3>
        <div className="inline-form">
          <label htmlFor="compare-stage" className="inline">
            The Freight in
          </label>
          <select id="compare-stage" value={against ?? ""} onChange={(e) => setChosen(e.target.value)}>
            {stageNames.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
          {inStage ? (
            <span className="muted">
              ({" "}
              <Link to={{ page: "project", project, kind: "freight", name: inStage.metadata.name }}>{displayAlias(inStage)}</Link> )
            </span>
          ) : stage ? (
            <span className="muted">(no Freight yet)</span>
          ) : null}
        </div>
        {stage && (
          <table className="history compare" aria-label={`Changes against ${against}`}>
            <thead>
              <tr>
                <th scope="col">Artifact</th>
                <th scope="col">In {against}</th>
                <th scope="col">This Freight</th>
                <th scope="col">Change</th>
              </tr>
            </thead>
            <tbody>
              {changes.map((c) => (
                <tr key={`${c.kind} ${c.key}`} className={`change-${c.change}`}>
                  <td>
                    <span className="badge">{c.kind}</span> <span className="mono">{c.key}</span>
                  </td>
                  <td className="mono">{c.from || "—"}</td>
                  <td className="mono">{c.to || "—"}</td>
                  <td>{c.change}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </section>
  );
}
