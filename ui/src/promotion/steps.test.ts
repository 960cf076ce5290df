import { describe, expect, it } from "vitest";
import type { Promotion } from "../api/types";
import { stepRows } from "./steps";

describe("stepRows", () => {
  it("joins each step of the process with what became of it and its outputs, by alias", () => {
    const p = {
      metadata: { name: "p" },
      spec: {
        stage: "test",
        freight: "f",
        steps: [{ uses: "git-clone" }, { uses: "git-push", as: "push" }, { task: { name: "render" }, as: "r" }],
      },
      status: {
        phase: "Running",
        steps: [
          { alias: "step-1", status: "Succeeded", message: "checked out", startedAt: "2026-01-01T00:00:00Z", finishedAt: "2026-01-01T00:00:01Z" },
          { alias: "push", status: "Running", message: "waiting", errorCount: 2 },
          { alias: "r::helm", status: "Succeeded" },
        ],
        state: { "step-1": { commits: { "./out": "abc" } }, push: { branch: "stages/test" } },
      },
    } as unknown as Promotion;
    const rows = stepRows(p);
    expect(rows.map((r) => [r.alias, r.uses, r.state])).toEqual([
      ["step-1", "git-clone", "Succeeded"],
      ["push", "git-push", "Running"],
      ["r", "task render", "Pending"],
      ["r::helm", "", "Succeeded"],
    ]);
    expect(rows[0].message).toBe("checked out");
    expect(rows[0].outputs).toEqual({ commits: { "./out": "abc" } });
    expect(rows[1].errorCount).toBe(2);
    expect(rows[1].outputs).toEqual({ branch: "stages/test" });
  });

  it("has no rows for a Promotion of promotionMechanisms", () => {
    expect(stepRows({ metadata: { name: "p" }, spec: { stage: "s", freight: "f" } } as Promotion)).toEqual([]);
  });
});
