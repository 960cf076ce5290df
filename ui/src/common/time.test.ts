import { describe, expect, it } from "vitest";
import { age } from "./time";

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
