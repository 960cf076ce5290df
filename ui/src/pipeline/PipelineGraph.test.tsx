import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Stage, Warehouse } from "../api/types";
import { PipelineGraph } from "./PipelineGraph";

describe("PipelineGraph", () => {
  it("finds a Stage among sixty and zooms", () => {
    const warehouses: Warehouse[] = [{ metadata: { name: "w" }, spec: { subscriptions: {} } } as Warehouse];
    const stages: Stage[] = Array.from({ length: 60 }, (_, i) => ({
      metadata: { name: `stage-${i}` },
      spec: { subscriptions: i === 0 ? { warehouse: "w" } : { upstreamStages: [{ name: `stage-${i - 1}` }] } },
    })) as Stage[];
    const { container } = render(<PipelineGraph warehouses={warehouses} stages={stages} freightByName={new Map()} promotions={new Map()} />);
    expect(screen.getAllByRole("article")).toHaveLength(61);
    fireEvent.change(screen.getByLabelText("Find a Stage or Warehouse"), { target: { value: "stage-42" } });
    expect(screen.getByRole("status", { name: "Matches" }).textContent).toBe("1 found");
    expect(container.querySelector(".node.match")?.textContent).toContain("stage-42");
    fireEvent.click(screen.getByRole("button", { name: "Zoom out" }));
    expect(screen.getByLabelText("Zoom").textContent).toBe("80%");
    fireEvent.click(screen.getByRole("button", { name: "Zoom in" }));
    expect(screen.getByLabelText("Zoom").textContent).toBe("100%");
  });
});
