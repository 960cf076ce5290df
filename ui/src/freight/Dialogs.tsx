// The Freight actions: promote into a Stage, approve for a Stage, rename
// the alias. Each dialog shows the server's refusal, word for word, and
// stays open so that the user can try again.

import { type FormEvent, type ReactNode, useState } from "react";
import type { Freight, Permission, Stage } from "../api/types";
import type { Placement } from "./placement";
import type { Rights } from "./rights";
import { displayAlias } from "./Timeline";

interface ActionProps {
  freight: Freight;
  placement: Placement;
  // stages are in pipeline order.
  stages: Stage[];
  rights: Rights;
  onClose: () => void;
}

// run performs an action; it resolves to the outcome to report, and
// rejects with the server's reason.
type Run = (submitted: string) => Promise<string>;

function Dialog({
  title,
  children,
  submitLabel,
  canSubmit,
  value,
  run,
  onClose,
  onDone,
}: {
  title: string;
  children: ReactNode;
  submitLabel: string;
  canSubmit: boolean;
  value: string;
  run: Run;
  onClose: () => void;
  onDone: (outcome: string) => void;
}) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onDone(await run(value));
      onClose();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="overlay" onClick={onClose}>
      <form
        className="dialog card"
        role="dialog"
        aria-modal="true"
        aria-label={title}
        onSubmit={submit}
        onClick={(e) => e.stopPropagation()}
        onKeyDown={(e) => e.key === "Escape" && onClose()}
      >
        <h2>{title}</h2>
        {children}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="buttons">
          <button type="button" className="secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" disabled={!canSubmit || busy}>
            {submitLabel}
          </button>
        </div>
      </form>
    </div>
  );
}

// StageChoice offers Stages; those the user may not choose are disabled,
// with the server's reason on hover.
function StageChoice({
  name,
  stages,
  selected,
  onSelect,
  note,
  may,
}: {
  name: string;
  stages: string[];
  selected: string;
  onSelect: (s: string) => void;
  note: (s: string) => string;
  may: (s: string) => Permission;
}) {
  return (
    <fieldset className="choices">
      <legend>Stage</legend>
      {stages.map((s) => {
        const p = may(s);
        return (
          <label key={s} className={p.allowed ? undefined : "refused"} title={p.allowed ? undefined : p.reason}>
            <input type="radio" name={name} value={s} checked={selected === s} disabled={!p.allowed} onChange={() => onSelect(s)} /> {s}
            <span className="muted"> {[note(s), p.allowed ? "" : "(not permitted)"].filter(Boolean).join(" ")}</span>
          </label>
        );
      })}
    </fieldset>
  );
}

export function PromoteDialog({ freight, placement, rights, onClose, run, onDone }: ActionProps & { run: Run; onDone: (o: string) => void }) {
  const offered = placement.availableTo;
  const [stage, setStage] = useState(offered.length === 1 && rights.promote(offered[0]).allowed ? offered[0] : "");
  const alias = displayAlias(freight);
  return (
    <Dialog title={`Promote ${alias}`} submitLabel="Promote" canSubmit={stage !== ""} value={stage} run={run} onClose={onClose} onDone={onDone}>
      {offered.length === 0 ? (
        <p>
          <strong>{alias}</strong> is not available to any Stage yet. Freight becomes available to a Stage that subscribes
          to its Warehouse, to a Stage whose upstream Stage verified it, and to a Stage it is approved for.
        </p>
      ) : (
        <StageChoice
          name="promote-stage"
          stages={offered}
          selected={stage}
          onSelect={setStage}
          note={(s) => (placement.current.includes(s) ? "(current)" : "")}
          may={rights.promote}
        />
      )}
    </Dialog>
  );
}

// ApproveRun approves for the Stage with the comment.
type ApproveRun = (stage: string, comment: string) => Promise<string>;

export function ApproveDialog({ freight, placement, stages, rights, onClose, run, onDone }: ActionProps & { run: ApproveRun; onDone: (o: string) => void }) {
  // A Stage with an approval policy of its own takes approvals even when
  // the Freight may already go there.
  const choices = stages
    .filter((s) => !placement.approved.includes(s.metadata.name) || s.spec?.approval !== undefined)
    .map((s) => s.metadata.name);
  const [stage, setStage] = useState("");
  const [comment, setComment] = useState("");
  const alias = displayAlias(freight);
  const given = stage === "" ? [] : (freight.status?.approvals?.[stage] ?? []);
  return (
    <Dialog
      title={`Approve ${alias}`}
      submitLabel="Approve"
      canSubmit={stage !== ""}
      value={stage}
      run={(s) => run(s, comment.trim())}
      onClose={onClose}
      onDone={onDone}
    >
      <p>
        Approving counts toward a Stage&apos;s approval policy (with the approve verb), or lets <strong>{alias}</strong> be
        promoted into a Stage without being verified upstream first, as for a hotfix (with the promote verb).
      </p>
      {choices.length === 0 ? (
        <p className="muted">It is approved for every Stage already.</p>
      ) : (
        <StageChoice name="approve-stage" stages={choices} selected={stage} onSelect={setStage} note={() => ""} may={rights.approve} />
      )}
      <label>
        Comment
        <textarea value={comment} maxLength={1024} placeholder="why you approve" onChange={(e) => setComment(e.target.value)} />
      </label>
      {given.length > 0 && (
        <ul aria-label="Approvals given">
          {given.map((a) => (
            <li key={a.user}>
              {a.user}, {new Date(a.at).toLocaleString()}
              {a.comment ? `: ${a.comment}` : ""}
            </li>
          ))}
        </ul>
      )}
    </Dialog>
  );
}

export function RenameDialog({ freight, onClose, run, onDone }: Omit<ActionProps, "placement" | "stages" | "rights"> & { run: Run; onDone: (o: string) => void }) {
  const [alias, setAlias] = useState(freight.alias ?? "");
  const trimmed = alias.trim();
  return (
    <Dialog
      title={`Rename ${displayAlias(freight)}`}
      submitLabel="Rename"
      canSubmit={trimmed !== "" && trimmed !== freight.alias}
      value={trimmed}
      run={run}
      onClose={onClose}
      onDone={onDone}
    >
      <p className="muted mono">{freight.metadata.name}</p>
      <label>
        Alias
        <input value={alias} onChange={(e) => setAlias(e.target.value)} autoFocus />
      </label>
    </Dialog>
  );
}
