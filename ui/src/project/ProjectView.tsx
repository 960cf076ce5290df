// ProjectView shows one project: its pipeline above, its Freight below,
// both kept current by the API's watch streams, and the Freight actions.

import { useEffect, useState, useSyncExternalStore } from "react";
import type { Freight, Hold } from "../api/types";
import type { Session } from "../session";
import { useNotices } from "../common/notices";
import { ApproveDialog, PromoteDialog, RenameDialog } from "../freight/Dialogs";
import type { Placement } from "../freight/placement";
import { displayAlias, type FreightAction, Timeline } from "../freight/Timeline";
import { useRights } from "../freight/rights";
import { PipelineGraph } from "../pipeline/PipelineGraph";
import { PromotionView } from "../promotion/PromotionView";
import type { DetailKind } from "../router";
import { StageView } from "../stage/StageView";
import { FreightView } from "../freight/FreightView";
import { WarehouseView } from "../warehouse/WarehouseView";
import { Link } from "../common/Link";
import { YamlEditor } from "../editor/YamlEditor";
import { type NewKind, template } from "../editor/templates";
import { editable, toYAML } from "../editor/yaml";
import { GatesProvider } from "../windows/WindowGate";
import { ProjectStore } from "./store";

interface Open {
  action: FreightAction;
  freight: Freight;
  placement: Placement;
}

const kindTitle: Record<DetailKind, string> = { stages: "Stage", promotions: "Promotion", freight: "Freight", warehouses: "Warehouse" };

export function ProjectView({
  session,
  project,
  kind,
  name,
  onUnauthorized,
}: {
  session: Session;
  project: string;
  // kind and name, when given, show one object of the project instead of
  // its pipeline and timeline.
  kind?: DetailKind;
  name?: string;
  onUnauthorized: () => void;
}) {
  const [store] = useState(() => new ProjectStore(session.client, project, onUnauthorized));
  useEffect(() => {
    store.start();
    return () => store.stop();
  }, [store]);
  const snap = useSyncExternalStore(store.subscribe, store.getSnapshot);
  const [open, setOpen] = useState<Open | null>(null);
  const [editing, setEditing] = useState<{ title: string; text: string } | null>(null);
  const edit = (kind: "Stage" | "Warehouse", obj: { metadata: Record<string, unknown> } | undefined) =>
    obj && setEditing({ title: `Edit ${kind} ${String(obj.metadata.name)}`, text: toYAML(editable(obj, "kargo.akuity.io/v1alpha1", kind)) });
  const { add } = useNotices();
  const rights = useRights(
    session.client,
    project,
    snap.stages.map((s) => s.metadata.name),
    snap.loaded,
  );

  const c = session.client;
  // The project's freeze is not in the watched kinds: it is read when the
  // view opens and every 15 s, for the Stage cards' badge.
  const [freeze, setFreeze] = useState<Hold | null>(null);
  useEffect(() => {
    let live = true;
    const read = () =>
      c.freeze(project).then(
        (f) => live && setFreeze(f.freeze ?? null),
        () => live && setFreeze(null),
      );
    void read();
    const timer = setInterval(read, 15_000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [c, project]);
  const close = () => setOpen(null);
  const done = (outcome: string) => add("ok", outcome);
  // Freight in a dialog follows its changes (a rename, an approval).
  const current = open && { ...open, freight: snap.freightByName.get(open.freight.metadata.name) ?? open.freight };

  return (
    <GatesProvider client={c} project={project} stages={snap.stages.map((s) => s.metadata.name)} focus={kind === "stages" ? name : undefined}>
    <div className={kind ? "project of-one" : "project"}>
      <div className="project-head">
        <h1>{kind ? <Link to={{ page: "project", project }}>{project}</Link> : project}</h1>
        {kind && name && (
          <span className="crumb" aria-label="Showing">
            › {kindTitle[kind]} {name}
          </span>
        )}
        <span className={`live ${snap.live ? "on" : "off"}`} role="status" aria-label="Live updates">
          {snap.live ? "live" : snap.loaded ? "reconnecting…" : "loading…"}
        </span>
        <span className="head-actions">
          <Link to={{ page: "audit", project }}>Audit trail</Link>
          <label htmlFor="new-kind" className="inline">
            New
          </label>
          <select
            id="new-kind"
            value=""
            onChange={(e) => {
              const k = e.target.value as NewKind;
              if (k) setEditing({ title: `New ${k}`, text: template(k, project) });
            }}
          >
            <option value="">…</option>
            <option value="Warehouse">Warehouse</option>
            <option value="Stage">Stage</option>
            <option value="PromotionPolicy">PromotionPolicy</option>
          </select>
        </span>
      </div>
      {snap.error && (
        <p className="error" role="alert">
          {snap.error}
        </p>
      )}
      {snap.loaded && kind === "promotions" && name && (
        <PromotionView client={c} project={project} name={name} promotion={snap.promotions.get(name)} freightByName={snap.freightByName} />
      )}
      {snap.loaded && kind === "stages" && name && (
        <StageView
          client={c}
          project={project}
          name={name}
          snap={snap}
          rights={rights}
          onDone={done}
          onEdit={() => edit("Stage", snap.stages.find((s) => s.metadata.name === name) as never)}
        />
      )}
      {snap.loaded && kind === "freight" && name && (
        <FreightView project={project} name={name} snap={snap} rights={rights} onAction={(action, freight, placement) => setOpen({ action, freight, placement })} />
      )}
      {snap.loaded && kind === "warehouses" && name && <WarehouseView client={c} project={project} name={name} snap={snap} onDone={done} onEdit={() => edit("Warehouse", snap.warehouses.find((w) => w.metadata.name === name) as never)} />}
      {snap.loaded && !kind && (
        <>
          <PipelineGraph
            warehouses={snap.warehouses}
            stages={snap.stages}
            freightByName={snap.freightByName}
            promotions={snap.promotions}
            onAbort={(name) => {
              c.abortPromotion(project, name).then(
                () => add("ok", `Asked Promotion ${name} to stop at its next safe point`),
                (err: Error) => add("error", err.message),
              );
            }}
            project={project}
            freeze={freeze}
          />
          <Timeline
            freight={snap.freight}
            stages={snap.stages}
            rights={rights}
            onAction={(action, freight, placement) => setOpen({ action, freight, placement })}
            project={project}
          />
        </>
      )}
      {editing && <YamlEditor client={c} title={editing.title} initial={editing.text} onClose={() => setEditing(null)} onDone={done} />}
      {current?.action === "promote" && (
        <PromoteDialog
          freight={current.freight}
          placement={current.placement}
          stages={snap.stages}
          rights={rights}
          onClose={close}
          onDone={done}
          run={async (stage) => {
            const p = await c.promote(project, stage, current.freight.metadata.name);
            return `Promoting ${displayAlias(current.freight)} to ${stage} (Promotion ${p.metadata.name})`;
          }}
        />
      )}
      {current?.action === "approve" && (
        <ApproveDialog
          freight={current.freight}
          placement={current.placement}
          stages={snap.stages}
          rights={rights}
          onClose={close}
          onDone={done}
          run={async (stage, comment) => {
            await c.approve(project, current.freight.metadata.name, stage, comment);
            return `Approved ${displayAlias(current.freight)} for ${stage}`;
          }}
        />
      )}
      {current?.action === "rename" && (
        <RenameDialog
          freight={current.freight}
          onClose={close}
          onDone={done}
          run={async (alias) => {
            await c.setAlias(project, current.freight.metadata.name, alias);
            return `Renamed ${displayAlias(current.freight)} to ${alias}`;
          }}
        />
      )}
    </div>
    </GatesProvider>
  );
}
