import { describe, expect, it } from "vitest";
import type { AuditRecord } from "../api/types";
import { parseRoute, pathOf } from "../router";
import { emptyText, exportCommand, jsonLines } from "./audit";

const rec: AuditRecord = {
  metadata: { name: "promote-x1" },
  time: "2026-10-24T10:00:00Z",
  actor: { username: "alice", groups: ["system:authenticated"] },
  action: "promote",
  target: { kind: "Stage", name: "prod", stage: "prod" },
  outcome: { result: "Succeeded", code: 201 },
};

describe("the audit view", () => {
  it("has an address per project, filtered by Stage", () => {
    expect(parseRoute("/projects/kargo-demo/audit")).toEqual({ page: "audit", project: "kargo-demo" });
    const r = parseRoute("/projects/kargo-demo/audit", "?stage=prod");
    expect(r).toEqual({ page: "audit", project: "kargo-demo", stage: "prod" });
    expect(pathOf(r)).toBe("/projects/kargo-demo/audit?stage=prod");
  });

  it("exports whole records, a line each, as the CLI does", () => {
    const lines = jsonLines([rec, rec]).split("\n");
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[0])).toEqual({ apiVersion: "kargo.akuity.io/v1alpha1", kind: "AuditRecord", ...rec });
    expect(exportCommand("kargo-demo", "prod", "24h")).toBe("kargo get audit --project kargo-demo --stage prod --since 24h -o jsonl > audit.jsonl");
  });

  it("says what an empty answer means", () => {
    expect(emptyText("prod", "24h")).toBe("No action about Stage prod was recorded in the last 24 hours.");
    expect(emptyText("", "")).toMatch(/No action has been taken through kargo in this project yet/);
  });
});
