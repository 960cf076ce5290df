import { describe, expect, it } from "vitest";
import type { Freight, Stage } from "../api/types";
import { Placements } from "./placement";

const f = (name: string, status?: Freight["status"]): Freight => ({ metadata: { name }, status });
const stage = (name: string, status: Stage["status"]): Stage => ({ metadata: { name }, spec: {}, status });

describe("Placements", () => {
  const stages = [
    stage("test", { currentFreight: { id: "a" }, availableFreight: [{ id: "a" }, { id: "b" }] }),
    stage("uat", { currentFreight: { id: "a" }, availableFreight: [{ id: "a" }] }),
    stage("prod", {}),
  ];
  const p = new Placements(stages);

  it("says where a Freight is current, verified and approved", () => {
    const got = p.of(f("a", { verifiedIn: { uat: {}, test: {} }, approvedFor: { prod: {} } }));
    expect(got.current).toEqual(["test", "uat"]);
    expect(got.verified).toEqual(["test", "uat"]);
    expect(got.approved).toEqual(["prod"]);
  });

  it("offers a Freight to the Stages that list it as available and those it is approved for", () => {
    expect(p.of(f("b")).availableTo).toEqual(["test"]);
    expect(p.of(f("a", { approvedFor: { prod: {} } })).availableTo).toEqual(["prod", "test", "uat"]);
  });

  it("offers new Freight nowhere until a Stage lists it", () => {
    expect(p.of(f("c"))).toEqual({ current: [], verified: [], approved: [], availableTo: [] });
  });
});
