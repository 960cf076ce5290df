import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { Freight, Stage } from "../api/types";
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
    render(<Timeline freight={freight} stages={stages} onAction={() => {}} />);
    const rows = screen.getAllByRole("listitem");
    expect(rows.length).toBeLessThan(30);
    const first = screen.getByLabelText("Freight freight-0");
    expect(first.querySelector(".alias")?.getAttribute("title")).toBe(hex(0));
    expect(first.textContent).toContain("nginx:1.0.0");
    expect(screen.getByText("1000")).toBeTruthy();
  });

  it("shows where a Freight is current, verified and approved", () => {
    render(<Timeline freight={freight} stages={stages} onAction={() => {}} />);
    const first = screen.getByLabelText("Freight freight-0");
    expect([...first.querySelectorAll(".chip")].map((c) => c.getAttribute("title"))).toEqual([
      "current in test",
      "verified in test",
      "approved for prod",
    ]);
  });

  it("passes the Freight and where it may go to an action", () => {
    const onAction = vi.fn();
    render(<Timeline freight={freight} stages={stages} onAction={onAction} />);
    fireEvent.click(screen.getByRole("button", { name: "Promote freight-0" }));
    expect(onAction).toHaveBeenCalledWith("promote", freight[0], expect.objectContaining({ availableTo: ["test", "prod"] }));
  });
});
