import { describe, expect, it } from "vitest";
import type { Stage, Warehouse } from "../api/types";
import { layout, pipelineOrder } from "./layout";

const wh = (name: string): Warehouse => ({
  metadata: { name },
  spec: { subscriptions: {}, interval: "5m0s", discoveryLimit: 20, freightCreationPolicy: "Automatic" },
});
const stage = (name: string, sub: NonNullable<Stage["spec"]>["subscriptions"]): Stage => ({ metadata: { name }, spec: { subscriptions: sub } });
const ups = (...names: string[]) => ({ upstreamStages: names.map((name) => ({ name })) });

function columns(l: ReturnType<typeof layout>): Record<string, [number, number]> {
  return Object.fromEntries(l.nodes.map((n) => [n.name, [n.column, n.row]]));
}

describe("layout", () => {
  it("puts the kargo-demo pipeline in a line, left to right", () => {
    const l = layout([wh("kargo-demo")], [stage("prod", ups("uat")), stage("test", { warehouse: "kargo-demo" }), stage("uat", ups("test"))]);
    expect(columns(l)).toEqual({ "kargo-demo": [0, 0], test: [1, 0], uat: [2, 0], prod: [3, 0] });
    expect(l.edges).toHaveLength(3);
    const x = Object.fromEntries(l.nodes.map((n) => [n.name, n.x]));
    expect(x.test).toBeLessThan(x.uat);
    expect(x.uat).toBeLessThan(x.prod);
  });

  it("places a Stage right of the furthest of several upstreams", () => {
    const l = layout(
      [wh("w")],
      [stage("a", { warehouse: "w" }), stage("b", ups("a")), stage("join", ups("a", "b"))],
    );
    expect(columns(l).join[0]).toBe(3);
  });

  it("orders a column by the rows of what feeds it", () => {
    const l = layout(
      [wh("alpha"), wh("beta")],
      [stage("z-from-alpha", { warehouse: "alpha" }), stage("a-from-beta", { warehouse: "beta" })],
    );
    const c = columns(l);
    expect(c["z-from-alpha"][1]).toBe(c.alpha[1]);
    expect(c["a-from-beta"][1]).toBe(c.beta[1]);
  });

  it("survives a cycle and a missing upstream", () => {
    const l = layout([], [stage("a", ups("b")), stage("b", ups("a")), stage("c", ups("gone"))]);
    expect(l.nodes).toHaveLength(3);
    expect(l.edges.find((e) => e.from.endsWith("gone"))).toBeUndefined();
  });

  it("lays out 50 Stages in ten parallel lines", () => {
    const stages: Stage[] = [];
    for (let line = 0; line < 10; line++)
      for (let i = 0; i < 5; i++)
        stages.push(stage(`l${line}-s${i}`, i === 0 ? { warehouse: `w${line}` } : ups(`l${line}-s${i - 1}`)));
    const l = layout(Array.from({ length: 10 }, (_, i) => wh(`w${i}`)), stages);
    const c = columns(l);
    for (let line = 0; line < 10; line++)
      for (let i = 0; i < 5; i++) expect(c[`l${line}-s${i}`]).toEqual([i + 1, c[`w${line}`][1]]);
  });

  it("orders Stages as the pipeline shows them: upstream first, then top to bottom", () => {
    const order = pipelineOrder(
      [wh("w")],
      [stage("prod", ups("uat")), stage("a-hotfix", ups("test")), stage("uat", ups("test")), stage("test", { warehouse: "w" })],
    );
    expect(order.map((s) => s.metadata.name)).toEqual(["test", "a-hotfix", "uat", "prod"]);
  });
});
