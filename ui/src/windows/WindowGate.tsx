// The gates of a project's Stages, read from the server (GET .../gates)
// when the view opens, when its Stages change, every 30 s and when the page
// comes back into view, and handed to the Stage cards and the Stage page
// through a context, so that the components between them need not carry
// them.

import { createContext, type ReactNode, useContext, useEffect, useState } from "react";
import type { Client } from "../api/client";
import type { Gates, StageGate } from "../api/types";
import { windowLine, windowSummary } from "./gates";

interface GatesState {
  gates: Gates | null;
  // refused is the server's reason when the caller may not read gates.
  refused?: string;
}

const GatesContext = createContext<GatesState>({ gates: null });

const refreshInterval = 30_000;

// GatesProvider reads the gates of stages (each of them named, so that the
// answer says whether the caller may override their windows, when focus is
// set: the Stage page; otherwise every Stage of the project, for the cards).
export function GatesProvider({ client, project, stages, focus, children }: { client: Client; project: string; stages: string[]; focus?: string; children: ReactNode }) {
  const [state, setState] = useState<GatesState>({ gates: null });
  const key = [...stages].sort().join("\n");
  useEffect(() => {
    const abort = new AbortController();
    const ask = () =>
      client.gates(project, focus ? [focus] : [], abort.signal).then(
        (gates) => setState({ gates }),
        (e: Error & { forbidden?: boolean }) => {
          if (abort.signal.aborted) return;
          setState({ gates: null, refused: e.forbidden ? e.message : undefined });
        },
      );
    void ask();
    const timer = setInterval(() => document.visibilityState === "visible" && void ask(), refreshInterval);
    const onVisible = () => document.visibilityState === "visible" && void ask();
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      abort.abort();
      clearInterval(timer);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [client, project, focus, key]);
  return <GatesContext.Provider value={state}>{children}</GatesContext.Provider>;
}

// useGate is the gate of the Stage named, once read.
export function useGate(stage: string): { gate?: StageGate; refused?: string } {
  const { gates, refused } = useContext(GatesContext);
  return { gate: gates?.stages[stage], refused };
}

// WindowBadge shows on a Stage card what its windows say, when a window
// has a say: closed (a badge, as holds and freezes have) or open until it
// closes.
export function WindowBadge({ stage }: { stage: string }) {
  const d = useGate(stage).gate?.windows;
  if (!d?.window || !windowLine(d)) return null;
  return (
    <div className={d.open ? "stop muted" : "stop"} role="note" aria-label="Promotion window" title={windowSummary(d)}>
      {!d.open && <span className="badge stopped">Window closed</span>} {windowLine(d)}
    </div>
  );
}

// WindowNote says on a Stage's page whether promotions may start, which
// window decides and until when; or why the caller may not know.
export function WindowNote({ stage }: { stage: string }) {
  const { gate, refused } = useGate(stage);
  if (refused) {
    return (
      <p className="muted small" role="note" aria-label="Promotion windows">
        Promotion windows are not shown: {refused}
      </p>
    );
  }
  const d = gate?.windows;
  if (!d) return null;
  return (
    <p className={d.open ? "small" : "small error"} role="note" aria-label="Promotion windows">
      {!d.open && <span className="badge stopped">Window closed</span>} {windowSummary(d)}
      {d.window?.description ? <span className="muted"> ({d.window.description})</span> : null}
    </p>
  );
}
