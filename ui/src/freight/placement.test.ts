import { describe, expect, it } from "vitest";
import type { Freight, Stage } from "../api/types";
import { Placements, available, parseDuration } from "./placement";

const now = Date.parse("2026-11-22T12:00:00Z");
const f = (name: string, extra: Partial<Freight> = {}): Freight => ({
  metadata: { name },
  origin: { kind: "Warehouse", name: "kargo-demo" },
  ...extra,
});
const stage = (name: string, subscriptions: NonNullable<Stage["spec"]>["subscriptions"], status?: Stage["status"]): Stage => ({
  metadata: { name },
  spec: { subscriptions },
  status,
});

const test = stage("test", { warehouse: "kargo-demo" }, { currentFreight: { id: "a" } });
const uat = stage("uat", { upstreamStages: [{ name: "test" }] }, { currentFreight: { id: "a" } });
const prod = stage("prod", { upstreamStages: [{ name: "uat", requiredSoakTime: "1h0m0s" }] });

describe("Placements", () => {
  const p = new Placements([test, uat, prod], now);

  it("says where a Freight is current, verified and approved", () => {
    const got = p.of(f("a", { status: { verifiedIn: { uat: {}, test: {} }, approvedFor: { prod: {} } } }));
    expect(got.current).toEqual(["test", "uat"]);
    expect(got.verified).toEqual(["test", "uat"]);
    expect(got.approved).toEqual(["prod"]);
  });

  it("offers new Freight of the Warehouse to the Stage subscribed to it, however old", () => {
    expect(p.of(f("old")).availableTo).toEqual(["test"]);
  });

  it("offers Freight downstream of where it was verified, after its soak time", () => {
    const verifiedAt = (ago: number) => new Date(now - ago).toISOString();
    expect(p.of(f("b", { status: { verifiedIn: { test: {} } } })).availableTo).toEqual(["test", "uat"]);
    expect(p.of(f("c", { status: { verifiedIn: { uat: { verifiedAt: verifiedAt(30 * 60e3) } } } })).availableTo).toEqual(["test"]);
    expect(p.of(f("d", { status: { verifiedIn: { uat: { verifiedAt: verifiedAt(61 * 60e3) } } } })).availableTo).toEqual(["test", "prod"]);
    expect(p.of(f("e", { status: { verifiedIn: { uat: {} } } })).availableTo).toEqual(["test"]);
  });

  it("offers approved Freight to the Stage it is approved for, and other origins nowhere else", () => {
    const other = f("x", { origin: { kind: "Warehouse", name: "other" }, status: { approvedFor: { prod: {} } } });
    expect(p.of(other).availableTo).toEqual(["prod"]);
  });

  it("offers a Stage's own discoveries to it alone", () => {
    const own = stage("own", { repos: {} });
    expect(available(own, f("y", { origin: { kind: "Stage", name: "own" } }), now)).toBe(true);
    expect(available(own, f("z", { origin: { kind: "Stage", name: "else" } }), now)).toBe(false);
    expect(available(stage("none", undefined), f("w"), now)).toBe(false);
  });
});

describe("parseDuration", () => {
  it("reads Go durations", () => {
    expect(parseDuration("1h0m0s")).toBe(3600e3);
    expect(parseDuration("1m30s")).toBe(90e3);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("1.5h")).toBe(5400e3);
    expect(parseDuration("0s")).toBe(0);
    expect(parseDuration("0")).toBe(0);
    expect(parseDuration("soon")).toBeNaN();
    expect(parseDuration("1h junk")).toBeNaN();
  });
});
