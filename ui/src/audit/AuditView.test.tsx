import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { Client } from "../api/client";
import type { AuditRecord } from "../api/types";
import { AuditView } from "./AuditView";

const rec = (name: string, result: "Succeeded" | "Refused", at: string): AuditRecord => ({
  metadata: { name },
  time: at,
  actor: { username: "alice", groups: ["developers", "system:authenticated"] },
  action: "promote",
  target: { kind: "Stage", name: "prod", stage: "prod", freight: "f5f87aa" },
  details: { freightAlias: "mortal-dragonfly" },
  outcome: result === "Succeeded" ? { result, code: 201 } : { result, code: 403, message: 'user "alice" may not promote to Stage "prod"' },
});

// serving answers the audit list with pages of records, and the
// Stages list; it records the audit queries asked.
function serving(pages: AuditRecord[][], asked: string[]): Client {
  return new Client("t", "", async (input) => {
    const url = new URL(String(input), "http://kargo");
    if (url.pathname.endsWith("/stages")) return new Response(JSON.stringify({ kind: "StageList", items: [], total: 0 }));
    asked.push(url.search);
    const i = Number(url.searchParams.get("continue") ?? "0");
    const total = pages.flat().length;
    return new Response(JSON.stringify({ kind: "AuditRecordList", items: pages[i], total, ...(i + 1 < pages.length ? { continue: String(i + 1) } : {}) }));
  });
}

describe("AuditView", () => {
  it("shows who, when, what, target and outcome, newest first, and pages on", { timeout: 20_000 }, async () => {
    const asked: string[] = [];
    const client = serving([[rec("a", "Refused", "2026-10-24T10:00:00Z")], [rec("b", "Succeeded", "2026-10-24T09:00:00Z")]], asked);
    render(<AuditView session={{ client, user: { username: "alice" } }} project="p" stage="prod" onUnauthorized={() => {}} />);
    const rows = await screen.findAllByRole("row", { name: "promote by alice" });
    expect(rows).toHaveLength(1);
    const cells = within(rows[0]).getAllByRole("cell").map((c) => c.textContent);
    expect(cells[1]).toBe("alicedevelopers, system:authenticated");
    expect(cells[2]).toBe("promotefreightAlias: mortal-dragonfly");
    expect(cells[3]).toBe("Stage prod");
    expect(cells[4]).toBe('Refused 403user "alice" may not promote to Stage "prod"');
    expect(asked[0]).toBe("?stage=prod&limit=50");
    expect(screen.getByRole("status", { name: "Records shown" }).textContent).toBe("1 of 2 records, newest first");
    fireEvent.click(screen.getByRole("button", { name: "Show older" }));
    await waitFor(() => expect(screen.getAllByRole("row", { name: "promote by alice" })).toHaveLength(2));
    expect(asked[1]).toBe("?stage=prod&limit=50&continue=1");
    expect(screen.queryByRole("button", { name: "Show older" })).toBeNull();
  });

  it("shows the server's refusal word for word", async () => {
    const message = 'user "carol" may not list auditrecords.kargo.akuity.io in project "p"';
    const client = new Client("t", "", async () => new Response(JSON.stringify({ kind: "Status", code: 403, reason: "Forbidden", message }), { status: 403 }));
    render(<AuditView session={{ client, user: { username: "carol" } }} project="p" onUnauthorized={() => {}} />);
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("You may not read this project's audit trail");
    expect(alert.textContent).toContain(message);
  });

  it("says honestly that nothing matched", async () => {
    const client = serving([[]], []);
    render(<AuditView session={{ client, user: { username: "alice" } }} project="p" stage="prod" onUnauthorized={() => {}} />);
    await screen.findByText("No action about Stage prod was recorded in the trail.");
  });
});
