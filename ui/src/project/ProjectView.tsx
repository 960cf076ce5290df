// ProjectView shows one project: its pipeline above, its Freight below,
// both kept current by the API's watch streams, and the Freight actions.

import { useEffect, useState, useSyncExternalStore } from "react";
import type { Freight } from "../api/types";
import type { Session } from "../session";
import { useNotices } from "../common/notices";
import { ApproveDialog, PromoteDialog, RenameDialog } from "../freight/Dialogs";
import type { Placement } from "../freight/placement";
import { displayAlias, type FreightAction, Timeline } from "../freight/Timeline";
import { useRights } from "../freight/rights";
import { PipelineGraph } from "../pipeline/PipelineGraph";
import { ProjectStore } from "./store";

interface Open {
  action: FreightAction;
  freight: Freight;
  placement: Placement;
}

export function ProjectView({ session, project, onUnauthorized }: { session: Session; project: string; onUnauthorized: () => void }) {
  const [store] = useState(() => new ProjectStore(session.client, project, onUnauthorized));
  useEffect(() => {
    store.start();
    return () => store.stop();
  }, [store]);
  const snap = useSyncExternalStore(store.subscribe, store.getSnapshot);
  const [open, setOpen] = useState<Open | null>(null);
  const { add } = useNotices();
  const rights = useRights(
    session.client,
    project,
    snap.stages.map((s) => s.metadata.name),
    snap.loaded,
  );

  const c = session.client;
  const close = () => setOpen(null);
  const done = (outcome: string) => add("ok", outcome);
  // Freight in a dialog follows its changes (a rename, an approval).
  const current = open && { ...open, freight: snap.freightByName.get(open.freight.metadata.name) ?? open.freight };

  return (
    <div className="project">
      <div className="project-head">
        <h1>{project}</h1>
        <span className={`live ${snap.live ? "on" : "off"}`} role="status" aria-label="Live updates">
          {snap.live ? "live" : snap.loaded ? "reconnecting…" : "loading…"}
        </span>
      </div>
      {snap.error && (
        <p className="error" role="alert">
          {snap.error}
        </p>
      )}
      {snap.loaded && (
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
          />
          <Timeline
            freight={snap.freight}
            stages={snap.stages}
            rights={rights}
            onAction={(action, freight, placement) => setOpen({ action, freight, placement })}
          />
        </>
      )}
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
  );
}
