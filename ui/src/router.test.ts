import { describe, expect, it } from "vitest";
import { parseRoute, pathOf } from "./router";

describe("routes", () => {
  it("reads and writes the pages of one object", () => {
    for (const kind of ["stages", "promotions", "freight", "warehouses"] as const) {
      const r = parseRoute(`/projects/kargo-demo/${kind}/a%2Fb`);
      expect(r).toEqual({ page: "project", project: "kargo-demo", kind, name: "a/b" });
      expect(pathOf(r)).toBe(`/projects/kargo-demo/${kind}/a%2Fb`);
    }
    expect(parseRoute("/projects/kargo-demo")).toEqual({ page: "project", project: "kargo-demo" });
    expect(parseRoute("/projects/kargo-demo/other/x")).toEqual({ page: "projects" });
  });
});
