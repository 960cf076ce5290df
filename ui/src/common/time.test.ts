import { describe, expect, it } from "vitest";
import { age, duration } from "./time";

describe("age", () => {
  const now = Date.parse("2026-11-22T12:00:00Z");
  it("prints ages as kubectl does", () => {
    expect(age("2026-11-22T11:59:15Z", now)).toBe("45s");
    expect(age("2026-11-22T11:48:00Z", now)).toBe("12m");
    expect(age("2026-11-22T07:00:00Z", now)).toBe("5h");
    expect(age("2026-11-19T12:00:00Z", now)).toBe("3d");
  });
  it("prints nothing for a missing or bad timestamp, and never a negative age", () => {
    expect(age(undefined, now)).toBe("");
    expect(age("yesterday", now)).toBe("");
    expect(age("2026-11-22T12:00:30Z", now)).toBe("0s");
  });
});

describe("duration", () => {
  it("says how long, to the second", () => {
    expect(duration("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")).toBe("<1s");
    expect(duration("2026-01-01T00:00:00Z", "2026-01-01T00:00:12Z")).toBe("12s");
    expect(duration("2026-01-01T00:00:00Z", "2026-01-01T00:03:04Z")).toBe("3m 4s");
    expect(duration("2026-01-01T00:00:00Z", "2026-01-01T02:05:00Z")).toBe("2h 5m");
    expect(duration(undefined)).toBe("");
  });
});
