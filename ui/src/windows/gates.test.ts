import { describe, expect, it } from "vitest";
import type { StageGate } from "../api/types";
import { inZone, promoteGate, windowLine, windowSummary } from "./gates";

const closed: StageGate = {
  open: false,
  stop: { kind: "Window", message: "Waiting: Deny PromotionWindow no-weekend-prod is open" },
  windows: {
    open: false,
    selecting: 1,
    window: { name: "no-weekend-prod", kind: "Deny", timeZone: "Europe/Berlin" },
    nextChange: "2026-10-26T07:00:00Z",
    message: "Waiting: Deny PromotionWindow no-weekend-prod is open",
  },
};

describe("gates in words", () => {
  it("shows the next change in the window's time zone, after a daylight saving change", () => {
    expect(inZone("2026-10-26T07:00:00Z", "Europe/Berlin")).toBe("Mon 26 Oct, 08:00 (Europe/Berlin)");
    expect(inZone("2026-10-26T07:00:00Z", "America/New_York", true)).toBe("Mon 03:00 New York");
    expect(inZone("2026-10-26T07:00:00Z", "Europe/Berlln")).toBe("Mon 26 Oct, 07:00 (UTC)");
  });

  it("names the deciding window, open or closed, and says when nothing applies", () => {
    expect(windowSummary(closed.windows)).toBe("Closed by Deny window no-weekend-prod until Mon 26 Oct, 08:00 (Europe/Berlin).");
    expect(windowLine(closed.windows)).toBe("no-weekend-prod until Mon 08:00 Berlin");
    expect(windowSummary({ open: true, selecting: 0 })).toMatch(/No promotion window applies/);
    expect(windowSummary({ open: true, selecting: 1, window: { name: "office", kind: "Allow", timeZone: "UTC" }, nextChange: "2026-10-28T17:00:00Z" })).toMatch(
      /^Open: Allow window office is open until Wed 28 Oct, 17:00 \(UTC\)\.$/,
    );
    expect(windowSummary({ open: false, selecting: 1, window: { name: "typo", timeZone: "Europe/Berlln", invalid: "unknown time zone" } })).toMatch(/cannot be read/);
  });

  it("blocks Promote with the server's refusal, offers the override to whoever may, and leaves an open Stage alone", () => {
    const refusal = 'user "bob" may not override-window Stage "uat"';
    const blocked = promoteGate({ ...closed, overrideWindow: { allowed: false, reason: refusal } });
    expect(blocked.kind).toBe("blocked");
    expect(blocked.kind === "blocked" && blocked.refusal).toBe(refusal);
    expect(promoteGate({ ...closed, overrideWindow: { allowed: true } }).kind).toBe("override");
    expect(promoteGate({ open: true, windows: { open: true, selecting: 0 } }).kind).toBe("open");
    expect(promoteGate(undefined).kind).toBe("open");
  });
});
