import { act, fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { VirtualList } from "./VirtualList";

const items = Array.from({ length: 1000 }, (_, i) => `freight-${i}`);

function list() {
  return render(
    <VirtualList items={items} rowHeight={50} rowKey={(s) => s} renderRow={(s) => <span>{s}</span>} initialHeight={500} overscan={5} label="timeline" />,
  );
}

describe("VirtualList", () => {
  it("draws the rows in view and a few more, not all thousand", () => {
    list();
    const rows = screen.getAllByRole("listitem");
    expect(rows.length).toBe(15); // 10 in view + 5 overscan below
    expect(rows[0].textContent).toBe("freight-0");
  });

  it("draws the rows scrolled into view", () => {
    list();
    const view = screen.getByRole("list", { name: "timeline" });
    act(() => {
      view.scrollTop = 25_000; // row 500
      fireEvent.scroll(view);
    });
    const texts = screen.getAllByRole("listitem").map((r) => r.textContent);
    expect(texts).toContain("freight-500");
    expect(texts).not.toContain("freight-0");
    expect(texts.length).toBe(20);
  });

  it("keeps the scroll height of the whole list", () => {
    list();
    const inner = screen.getByRole("list", { name: "timeline" }).firstElementChild as HTMLElement;
    expect(inner.style.height).toBe("50000px");
  });
});
