import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { Freight, Promotion, Stage } from "../api/types";
import { StageCard } from "./StageCard";

const name = "f5f87aa23c9e97f43eb83dd63768ee41f5ba3766";
const freight = (alias: string): Map<string, Freight> => new Map([[name, { metadata: { name }, alias }]]);

const stage = (status: Stage["status"]): Stage => ({ metadata: { name: "test" }, spec: {}, status });

describe("StageCard", () => {
  it("shows the current Freight by its alias, with the full name on hover", () => {
    render(<StageCard stage={stage({ currentFreight: { id: name, alias: "mortal-dragonfly" }, phase: "Steady", health: { status: "Healthy" } })} freightByName={freight("mortal-dragonfly")} promotions={new Map()} />);
    const current = screen.getByLabelText("Current Freight");
    expect(current.textContent).toBe("mortal-dragonfly");
    expect(current.querySelector(".alias")?.getAttribute("title")).toBe(name);
    expect(screen.getByLabelText("Health").textContent).toBe("Healthy");
    expect(screen.getByLabelText("Phase").textContent).toBe("Steady");
  });

  it("follows a rename of the Freight before the Stage's status does", () => {
    render(<StageCard stage={stage({ currentFreight: { id: name, alias: "old-name" } })} freightByName={freight("new-name")} promotions={new Map()} />);
    expect(screen.getByLabelText("Current Freight").textContent).toBe("new-name");
  });

  it("shows the promotion under way", () => {
    render(
      <StageCard
        stage={stage({ phase: "Promoting", currentPromotion: { name: "test.01h.f5f87aa", freight: { id: name }, phase: "Running" } })}
        freightByName={freight("mortal-dragonfly")}
        promotions={new Map()}
      />,
    );
    expect(screen.getByRole("status", { name: "Running promotion" }).textContent).toContain("Promoting mortal-dragonfly · Running");
    expect(screen.getByLabelText("Current Freight").textContent).toBe("no Freight yet");
  });

  it("says why the last promotion failed", () => {
    const promo: Promotion = { metadata: { name: "p1" }, spec: { stage: "test", freight: name }, status: { phase: "Failed", message: 'push to stages/test: permission denied' } };
    render(<StageCard stage={stage({ lastPromotion: { name: "p1", phase: "Failed" } })} freightByName={freight("x")} promotions={new Map([["p1", promo]])} />);
    expect(screen.getByText(/Last promotion Failed: push to stages\/test: permission denied/)).toBeTruthy();
  });

  it("shows a hold with who set it and why, before a freeze", () => {
    const hold = { reason: "checkout errors since 14:02", by: "alice", at: "2026-11-21T14:05:00Z" };
    const freeze = { reason: "incident 4711", by: "bob", at: "2026-11-21T13:00:00Z" };
    const { unmount } = render(<StageCard stage={stage({ hold })} freightByName={freight("x")} promotions={new Map()} freeze={freeze} />);
    const held = screen.getByRole("note", { name: "Held" });
    expect(held.textContent).toBe("Held by alice: checkout errors since 14:02");
    expect(held.getAttribute("title")).toContain("2026-11-21T14:05:00Z");
    expect(screen.queryByRole("note", { name: "Frozen" })).toBeNull();
    unmount();

    render(<StageCard stage={stage({})} freightByName={freight("x")} promotions={new Map()} freeze={freeze} />);
    expect(screen.getByRole("note", { name: "Frozen" }).textContent).toBe("Frozen by bob: incident 4711");
  });

  it("shows no badge when nothing stops promotions", () => {
    render(<StageCard stage={stage({ phase: "Steady" })} freightByName={freight("x")} promotions={new Map()} freeze={null} />);
    expect(screen.queryByRole("note")).toBeNull();
  });

  it("shows a Promotion waiting for approval, and offers to abort it", () => {
    const onAbort = vi.fn();
    const promo: Promotion = {
      metadata: { name: "p2" },
      spec: { stage: "test", freight: name },
      status: { phase: "Pending", message: "Waiting for approval: 1 more approval", approval: { missing: "Waiting for approval: 1 more approval" } },
    };
    render(<StageCard stage={stage({})} freightByName={freight("x")} promotions={new Map([["p2", promo]])} onAbort={onAbort} />);
    const waiting = screen.getByRole("status", { name: "Waiting for approval" });
    expect(waiting.textContent).toContain("p2 waits for approval");
    expect(waiting.getAttribute("title")).toBe("Waiting for approval: 1 more approval");
    fireEvent.click(screen.getByRole("button", { name: "Abort p2" }));
    expect(onAbort).toHaveBeenCalledWith("p2");
  });
});
