import { act, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import type { Freight, Stage, Warehouse } from "../api/types";
import { everything } from "../freight/rights";
import { Timeline } from "../freight/Timeline";
import { PipelineGraph } from "./PipelineGraph";
import { describeSpot, rolesIn, spotlight } from "./spotlight";

const hex = (i: number) => i.toString(16).padStart(40, "0");
const freight: Freight[] = [0, 1].map((i) => ({
  metadata: { name: hex(i), creationTimestamp: new Date(Date.now() - i * 60_000).toISOString() },
  alias: `freight-${i}`,
  origin: { kind: "Warehouse", name: "w" },
  status: i === 0 ? { verifiedIn: { test: {}, uat: {} }, approvedFor: { prod: {} } } : {},
}));
const freightByName = new Map(freight.map((f) => [f.metadata.name, f]));
const warehouses: Warehouse[] = [{ metadata: { name: "w" }, spec: { subscriptions: {} } } as Warehouse];
const stages: Stage[] = [
  { metadata: { name: "test" }, spec: { subscriptions: { warehouse: "w" } }, status: { currentFreight: { id: hex(1) } } },
  { metadata: { name: "uat" }, spec: { subscriptions: { upstreamStages: [{ name: "test" }] } }, status: { currentFreight: { id: hex(0) } } },
  { metadata: { name: "prod" }, spec: { subscriptions: { upstreamStages: [{ name: "uat" }] } } },
  { metadata: { name: "qa" }, spec: { subscriptions: { upstreamStages: [{ name: "test" }] } } },
];

const page = () =>
  render(
    <>
      <PipelineGraph warehouses={warehouses} stages={stages} freightByName={freightByName} promotions={new Map()} />
      <Timeline freight={freight} stages={stages} rights={everything} onAction={() => {}} />
    </>,
  );

const node = (name: string) => screen.getByRole("article", { name }).closest(".node")!;
const description = (name: string) => {
  const id = screen.getByRole("article", { name }).getAttribute("aria-describedby");
  return id ? document.getElementById(id)?.textContent : undefined;
};

afterEach(() => act(() => spotlight.hide()));

describe("the spotlight", () => {
  it("names what a Freight is in each Stage, in the order current, verified, approved", () => {
    const roles = rolesIn(freight[0], stages);
    expect([...roles]).toEqual([
      ["test", ["verified"]],
      ["uat", ["current", "verified"]],
      ["prod", ["approved"]],
    ]);
    expect(describeSpot("tidy-fox", ["current", "verified", "approved"])).toBe("Freight tidy-fox is current, verified and approved here.");
    expect(describeSpot("tidy-fox", [])).toBe("Freight tidy-fox is not in this Stage.");
  });

  it("highlights the Stages a hovered Freight is in, dims the rest, and describes each Stage", () => {
    page();
    expect(node("Stage uat").className).toBe("node");
    expect(screen.getByRole("article", { name: "Stage uat" }).getAttribute("aria-describedby")).toBeNull();

    fireEvent.mouseEnter(screen.getByLabelText("Freight freight-0"));
    expect(node("Stage uat").className).toBe("node spot spot-current spot-verified");
    expect(node("Stage test").className).toBe("node spot spot-verified");
    expect(node("Stage prod").className).toBe("node spot spot-approved");
    expect(node("Stage qa").className).toBe("node dimmed");
    expect(node("Warehouse w").className).toBe("node spot");
    expect(description("Stage uat")).toBe("Freight freight-0 is current and verified here.");
    expect(description("Stage qa")).toBe("Freight freight-0 is not in this Stage.");
    expect(screen.getByRole("status", { name: "Highlighted Freight" }).textContent).toBe(
      "freight-0: current in 1 Stage, verified in 2 Stages, approved for 1 Stage",
    );

    fireEvent.mouseLeave(screen.getByLabelText("Freight freight-0"));
    expect(node("Stage qa").className).toBe("node");
    expect(description("Stage uat")).toBeUndefined();
  });

  it("follows the keyboard focus the same way", () => {
    page();
    const row = screen.getByLabelText("Freight freight-1");
    act(() => row.querySelector("button")!.focus());
    expect(node("Stage test").className).toBe("node spot spot-current");
    expect(node("Stage uat").className).toBe("node dimmed");
    expect(description("Stage test")).toBe("Freight freight-1 is current here.");
    act(() => (document.activeElement as HTMLElement).blur());
    expect(node("Stage test").className).toBe("node");
  });
});
