import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { Client } from "../api/client";
import type { Freight, Stage } from "../api/types";
import { everything, rightsFrom } from "../freight/rights";
import type { ProjectSnapshot } from "../project/store";
import { StageView } from "./StageView";

const fname = "f5f87aa23c9e97f43eb83dd63768ee41f5ba3766";
const f: Freight = { metadata: { name: fname, creationTimestamp: "2026-01-01T00:00:00Z" }, alias: "mortal-dragonfly", origin: { kind: "Warehouse", name: "w" } };

function snapshot(stage: Stage): ProjectSnapshot {
  return { warehouses: [], stages: [stage], freight: [f], freightByName: new Map([[fname, f]]), promotions: new Map(), loaded: true, live: true };
}

const refusing = new Client("t", "", async () =>
  new Response(JSON.stringify({ kind: "Status", code: 403, reason: "Forbidden", message: 'stages.kargo.akuity.io "prod" is forbidden: User "bob" cannot patch resource "stages"' }), { status: 403 }),
);

describe("StageView", () => {
  const stage: Stage = {
    metadata: { name: "prod" },
    spec: { subscriptions: { warehouse: "w" }, promotionMechanisms: { argoCDAppUpdates: [{ appName: "app-prod" }, { appName: "app-prod-db" }] } },
    status: {
      phase: "Failed",
      currentFreight: { id: fname, alias: "mortal-dragonfly" },
      health: {
        status: "Unhealthy",
        issues: ["Application argocd/app-prod-db is Degraded: pod crash-looping"],
        applications: [
          { namespace: "argocd", name: "app-prod", status: "Healthy", healthStatus: "Healthy", syncStatus: "Synced", revisions: ["0123456789abcdef0123456789abcdef01234567"] },
          { namespace: "argocd", name: "app-prod-db", status: "Unhealthy", message: "Application argocd/app-prod-db is Degraded: pod crash-looping", healthStatus: "Degraded", syncStatus: "Synced" },
        ],
      },
      verification: {
        id: "v1",
        freight: fname,
        phase: "Failed",
        message: "1 of 2 checks failed",
        checks: [
          { name: "smoke", phase: "Successful", measurements: 3, failures: 0 },
          { name: "latency", phase: "Failed", measurements: 3, failures: 2, message: "p99 1.2s above 500ms" },
        ],
      },
    },
  };

  it("shows each Application's health and each check's result", () => {
    render(<StageView client={refusing} project="p" name="prod" snap={snapshot(stage)} rights={everything} onDone={() => {}} onEdit={() => {}} />);
    const apps = screen.getByRole("list", { name: "Applications" });
    expect(apps.textContent).toContain("argocd/app-prod-db");
    expect(apps.textContent).toContain("pod crash-looping");
    const [prod, db] = Array.from(apps.querySelectorAll("li"));
    expect(prod.textContent).toContain("Healthy");
    expect(prod.textContent).toContain("Argo CD: Healthy, Synced at 0123456");
    expect(db.textContent).toContain("Argo CD: Degraded, Synced");
    const checks = screen.getByRole("list", { name: "Checks" });
    expect(checks.textContent).toContain("latency");
    expect(checks.textContent).toContain("p99 1.2s above 500ms");
    expect(checks.textContent).toContain("3 measurements, 2 failures");
    expect(screen.getByRole("region", { name: "Current Freight" }).textContent).toContain("mortal-dragonfly");
  });

  it("names the Applications the Stage updates before their health is first read", () => {
    const unread: Stage = { ...stage, status: { ...stage.status, health: undefined } };
    render(<StageView client={refusing} project="p" name="prod" snap={snapshot(unread)} rights={everything} onDone={() => {}} onEdit={() => {}} />);
    const items = Array.from(screen.getByRole("list", { name: "Applications" }).querySelectorAll("li")).map((li) => li.textContent);
    expect(items).toEqual(["argocd/app-prod Unknown", "argocd/app-prod-db Unknown"]);
  });

  it("disables what the user may not do, with the server's reason, and shows a refusal word for word", async () => {
    const reason = 'user "bob" may not promote to Stage "prod"';
    const rights = rightsFrom({ stages: { prod: { promote: { allowed: false, reason }, approve: { allowed: false, reason } } }, rename: { allowed: false } });
    render(<StageView client={refusing} project="p" name="prod" snap={snapshot(stage)} rights={rights} onDone={() => {}} onEdit={() => {}} />);
    const promote = screen.getByRole("button", { name: "Promote" }) as HTMLButtonElement;
    expect(promote.disabled).toBe(true);
    expect(promote.title).toBe(reason);
    expect((screen.getByRole("button", { name: "Re-verify" }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByRole("button", { name: "Refresh" }));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain('User "bob" cannot patch resource "stages"'));
  });

  it("holds the Stage with a reason and releases it", async () => {
    const calls: { method: string; url: string; body: unknown }[] = [];
    const recording = new Client("t", "", async (input, init) => {
      calls.push({ method: init?.method ?? "GET", url: String(input), body: init?.body ? JSON.parse(String(init.body)) : undefined });
      return new Response(JSON.stringify(stage), { status: 200 });
    });
    const done: string[] = [];
    const { unmount } = render(<StageView client={recording} project="p" name="prod" snap={snapshot(stage)} rights={everything} onDone={(o) => done.push(o)} onEdit={() => {}} />);
    fireEvent.click(screen.getByRole("button", { name: "Hold…" }));
    const form = screen.getByRole("form", { name: "Hold the Stage" });
    const submit = screen.getByRole("button", { name: "Hold" }) as HTMLButtonElement;
    expect(submit.disabled).toBe(true);
    fireEvent.change(screen.getByLabelText("Why"), { target: { value: " database migration " } });
    fireEvent.submit(form);
    await waitFor(() => expect(done).toEqual(["Held Stage prod: no Promotion into it starts until it is released"]));
    expect(calls).toEqual([{ method: "POST", url: "/api/v1/projects/p/stages/prod/hold", body: { reason: "database migration" } }]);
    unmount();

    const held: Stage = { ...stage, status: { ...stage.status, hold: { by: "alice", at: "2026-12-03T12:00:00Z", reason: "database migration" } } };
    render(<StageView client={recording} project="p" name="prod" snap={snapshot(held)} rights={everything} onDone={(o) => done.push(o)} onEdit={() => {}} />);
    expect(screen.getByRole("note", { name: "Held" }).textContent).toContain("Held by alice");
    expect(screen.queryByRole("button", { name: "Hold…" })).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Release" }));
    await waitFor(() => expect(calls).toHaveLength(2));
    expect(calls[1]).toMatchObject({ method: "POST", url: "/api/v1/projects/p/stages/prod/release" });
  });

  it("shows the server's refusal of a hold", async () => {
    render(<StageView client={refusing} project="p" name="prod" snap={snapshot(stage)} rights={everything} onDone={() => {}} onEdit={() => {}} />);
    fireEvent.click(screen.getByRole("button", { name: "Hold…" }));
    fireEvent.change(screen.getByLabelText("Why"), { target: { value: "stop" } });
    fireEvent.submit(screen.getByRole("form", { name: "Hold the Stage" }));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain('User "bob" cannot patch resource "stages"'));
  });
});
