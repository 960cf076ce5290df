// What the UI says of a Stage's gate (GET .../gates): the server decides
// whether promotions may start and which PromotionWindow decides it
// (internal/flowgate); nothing here reads a schedule. These functions only
// put the answer in words, with times in the window's own time zone.

import type { Permission, StageGate, WindowDecision } from "../api/types";

// inZone shows a time as a wall clock of the time zone tz ("Mon 26 Oct,
// 08:00 CET"), or as the browser's when tz is not one it knows.
export function inZone(iso: string, tz: string): string {
  const opts: Intl.DateTimeFormatOptions = { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
  try {
    return new Intl.DateTimeFormat("en-GB", { ...opts, timeZone: tz }).format(new Date(iso));
  } catch {
    return new Intl.DateTimeFormat("en-GB", opts).format(new Date(iso));
  }
}

// windowName names the deciding window: "Deny window no-weekend-prod
// (Europe/Berlin)".
export function windowName(d: WindowDecision): string {
  const w = d.window;
  if (!w) return "";
  return `${w.kind ? `${w.kind} window` : "Window"} ${w.name} (${w.timeZone || "UTC"})`;
}

// windowSummary says in a line what the windows say now and until when.
export function windowSummary(d: WindowDecision): string {
  const w = d.window;
  if (!w) return d.selecting === 0 ? "No promotion window applies: promotions may start at any time." : "Promotions may start now.";
  if (w.invalid) return `${windowName(d)} cannot be read (${w.invalid}): promotions wait until it is fixed or deleted.`;
  const until = d.nextChange ? inZone(d.nextChange, w.timeZone || "UTC") : "";
  if (!d.open) return `Closed by ${windowName(d)}${until ? ` until ${until}` : " until the window is changed or deleted"}.`;
  if (w.kind === "Allow") return `Open: ${windowName(d)} is open${until ? ` until ${until}` : ""}.`;
  return `Open${until ? ` until ${until}, when ${windowName(d)} closes it` : ""}.`;
}

// PromoteGate is what the Promote button of a Stage does about its
// windows: blocked (with why), through an override the caller may make,
// or nothing (open, or not known: the server decides when asked).
export type PromoteGate = { kind: "open" } | { kind: "blocked"; reason: string; refusal: string } | { kind: "override"; note: string };

export function promoteGate(gate: StageGate | undefined): PromoteGate {
  const d = gate?.windows;
  if (!d || d.open) return { kind: "open" };
  const may: Permission | undefined = gate.overrideWindow;
  if (may?.allowed) {
    return {
      kind: "override",
      note: "You hold the override-window verb on this Stage: Promote overrides the window now, and the audit trail records the override.",
    };
  }
  const refusal = may?.reason ?? "Promotions wait for the window to open.";
  return { kind: "blocked", reason: `${windowSummary(d)} ${refusal}`, refusal };
}
