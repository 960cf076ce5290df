// What the UI says of a Stage's gate (GET .../gates): the server decides
// whether promotions may start and which PromotionWindow decides it
// (internal/flowgate); nothing here reads a schedule. These functions only
// put the answer in words, with times in the window's own time zone.

import type { Permission, StageGate, WindowDecision } from "../api/types";

// inZone shows a time as a wall clock of the time zone tz, with the
// zone: "Mon 26 Oct, 08:00 (Europe/Berlin)"; short, a card's "Mon 08:00
// Berlin". A zone the browser does not know shows in UTC.
export function inZone(iso: string, tz: string, short = false): string {
  const opts: Intl.DateTimeFormatOptions = short
    ? { weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }
    : { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  let zone = tz || "UTC";
  let text: string;
  try {
    text = new Intl.DateTimeFormat("en-GB", { ...opts, timeZone: zone }).format(new Date(iso));
  } catch {
    zone = "UTC";
    text = new Intl.DateTimeFormat("en-GB", { ...opts, timeZone: zone }).format(new Date(iso));
  }
  text = text.replace(",", short ? "" : ",");
  return short ? `${text} ${zone.split("/").pop()?.replaceAll("_", " ")}` : `${text} (${zone})`;
}

// windowName names the deciding window: "Deny window no-weekend-prod".
export function windowName(d: WindowDecision): string {
  const w = d.window;
  if (!w) return "";
  return `${w.kind ? `${w.kind} window` : "Window"} ${w.name}`;
}

// windowSummary says in a sentence what the windows say now and until
// when, in the deciding window's time zone.
export function windowSummary(d: WindowDecision): string {
  const w = d.window;
  if (!w) return d.selecting === 0 ? "No promotion window applies: promotions may start at any time." : "Promotions may start now.";
  const tz = w.timeZone || "UTC";
  if (w.invalid) return `${windowName(d)} cannot be read (${w.invalid}): promotions wait until it is fixed or deleted.`;
  const until = d.nextChange ? inZone(d.nextChange, tz) : "";
  if (!d.open) return `Closed by ${windowName(d)} ${until ? `until ${until}` : `(${tz}) until the window is changed or deleted`}.`;
  if (w.kind === "Allow") return `Open: ${windowName(d)} is open${until ? ` until ${until}` : ` (${tz})`}.`;
  return until ? `Open until ${until}, when ${windowName(d)} closes it.` : "Promotions may start now.";
}

// windowLine is windowSummary in the few words of a Stage card.
export function windowLine(d: WindowDecision): string {
  const w = d.window;
  if (!w) return "";
  if (w.invalid) return `${w.name} cannot be read`;
  const until = d.nextChange ? ` until ${inZone(d.nextChange, w.timeZone || "UTC", true)}` : "";
  if (!d.open) return `${w.name}${until}`;
  if (w.kind === "Allow") return `Window ${w.name} open${until}`;
  return until ? `Open${until} (${w.name})` : "";
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
