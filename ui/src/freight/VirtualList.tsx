// VirtualList renders only the rows in view (and a few either side) of a
// list of fixed-height rows, so that a project with thousands of Freight
// costs as much to draw and to scroll as one with twenty.

import { type ReactNode, useLayoutEffect, useRef, useState } from "react";

export interface VirtualListProps<T> {
  items: T[];
  rowHeight: number;
  rowKey: (item: T) => string;
  renderRow: (item: T, index: number) => ReactNode;
  // overscan rows are drawn beyond each edge of the view.
  overscan?: number;
  // initialHeight is the view's height before it can be measured.
  initialHeight?: number;
  className?: string;
  label: string;
}

export function VirtualList<T>({
  items,
  rowHeight,
  rowKey,
  renderRow,
  overscan = 6,
  initialHeight = 600,
  className,
  label,
}: VirtualListProps<T>) {
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(initialHeight);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    // The observer reports the first size once the browser has laid the
    // page out anyway; reading it here would lay out the whole page (200
    // Stage cards) once more, before the first paint.
    if (typeof ResizeObserver === "undefined") {
      if (el.clientHeight > 0) setHeight(el.clientHeight);
      return;
    }
    const ro = new ResizeObserver(() => {
      if (el.clientHeight > 0) setHeight(el.clientHeight);
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(items.length, Math.ceil((scrollTop + height) / rowHeight) + overscan);
  const rows: ReactNode[] = [];
  for (let i = first; i < last; i++) {
    const item = items[i];
    rows.push(
      <div
        key={rowKey(item)}
        role="listitem"
        aria-setsize={items.length}
        aria-posinset={i + 1}
        className="vrow"
        style={{ position: "absolute", top: i * rowHeight, height: rowHeight, left: 0, right: 0 }}
      >
        {renderRow(item, i)}
      </div>,
    );
  }
  return (
    <div
      ref={ref}
      className={className}
      style={{ overflowY: "auto", position: "relative" }}
      onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
      role="list"
      aria-label={label}
    >
      <div style={{ height: items.length * rowHeight, position: "relative" }}>{rows}</div>
    </div>
  );
}
