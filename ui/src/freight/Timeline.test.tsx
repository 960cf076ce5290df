import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { Freight, Stage } from "../api/types";
import { everything, rightsFrom } from "./rights";
import { Timeline } from "./Timeline";

const hex = (i: number) => i.toString(16).padStart(40, "0");
const freight: Freight[] = Array.from({ length: 1000 }, (_, i) => ({
  metadata: { name: hex(i), creationTimestamp: new Date(Date.now() - i * 60_000).toISOString() },
  alias: `freight-${i}`,
  origin: { kind: "Warehouse", name: "w" },
  images: [{ repoURL: "registry.example.com/nginx", tag: `1.0.${i}` }],
  status: i === 0 ? { verifiedIn: { test: {} }, approvedFor: { prod: {} } } : {},
}));
const stages: Stage[] = [
  { metadata: { name: "test" }, spec: { subscriptions: { warehouse: "w" } }, status: { currentFreight: { id: hex(0) } } },
  { metadata: { name: "prod" }, spec: { subscriptions: { upstreamStages: [{ name: "test" }] } } },
];

describe("Timeline", () => {
  it("draws a screenful of a thousand Freight, each by alias with its name on hover", () => {
    render(<Timeline freight={freight} stages={stages} rights={everything} onAction={() => {}} />);
    const rows = screen.getAllByRole("listitem");
    expect(rows.length).toBeLessThan(30);
    const first = screen.getByLabelText("Freight freight-0");
    expect(first.querySelector(".alias")?.getAttribute("title")).toBe(hex(0));
    expect(first.textContent).toContain("nginx:1.0.0");
    expect(screen.getByText("1000")).toBeTruthy();
  });

  it("shows where a Freight is current, verified and approved", () => {
    render(<Timeline freight={freight} stages={stages} rights={everything} onAction={() => {}} />);
    const first = screen.getByLabelText("Freight freight-0");
    expect([...first.querySelectorAll(".chip")].map((c) => c.getAttribute("title"))).toEqual([
      "current in test",
      "verified in test",
      "approved for prod",
    ]);
  });

  it("passes the Freight and where it may go to an action", () => {
    const onAction = vi.fn();
    render(<Timeline freight={freight} stages={stages} rights={everything} onAction={onAction} />);
    fireEvent.click(screen.getByRole("button", { name: "Promote freight-0" }));
    expect(onAction).toHaveBeenCalledWith("promote", freight[0], expect.objectContaining({ availableTo: ["test", "prod"] }));
  });

  it("lists the Stages of a chip kind in pipeline order, not the alphabet's", () => {
    const line: Stage[] = [
      { metadata: { name: "test" }, spec: { subscriptions: { warehouse: "w" } } },
      { metadata: { name: "uat" }, spec: { subscriptions: { upstreamStages: [{ name: "test" }] } } },
      { metadata: { name: "prod" }, spec: { subscriptions: { upstreamStages: [{ name: "uat" }] } } },
    ];
    const everywhere: Freight = { ...freight[0], status: { verifiedIn: { prod: {}, test: {}, uat: {} }, approvedFor: { uat: {}, prod: {} } } };
    render(<Timeline freight={[everywhere]} stages={line} rights={everything} onAction={() => {}} />);
    const chips = (kind: string) => [...screen.getByLabelText("Freight freight-0").querySelectorAll(`.chip.${kind}`)].map((c) => c.textContent);
    expect(chips("verified")).toEqual(["✓ test", "✓ uat", "✓ prod"]);
    expect(chips("approved")).toEqual(["★ uat", "★ prod"]);
  });

  it("disables an action the user may take nowhere, with the server's reason on hover", () => {
    const no = (reason: string) => ({ allowed: false, reason });
    const rights = rightsFrom({
      stages: {
        test: { promote: no("may not promote to test"), approve: { allowed: true } },
        prod: { promote: no("may not promote to prod"), approve: no("may not approve for prod") },
      },
      rename: no('user "bob" may not update freights'),
    });
    render(<Timeline freight={freight.slice(0, 2)} stages={stages} rights={rights} onAction={() => {}} />);
    const button = (name: string) => screen.getByRole("button", { name }) as HTMLButtonElement;
    // freight-0 may go to test and prod, freight-1 to test: neither may be promoted.
    expect(button("Promote freight-0").disabled).toBe(true);
    expect(button("Promote freight-0").title).toBe("may not promote to test");
    expect(button("Promote freight-1").disabled).toBe(true);
    // freight-0 is approved for prod already and may be approved for test.
    expect(button("Approve freight-0").disabled).toBe(false);
    expect(button("Approve freight-0").title).toBe("");
    expect(button("Rename freight-0").disabled).toBe(true);
    expect(button("Rename freight-0").title).toBe('user "bob" may not update freights');
  });
});
