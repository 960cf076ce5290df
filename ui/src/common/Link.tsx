// Link is an anchor to a page of the UI: a real address (open in a new tab,
// copy), followed without a reload.

import type { ReactNode } from "react";
import { navigate, pathOf, type Route } from "../router";

export function Link({ to, children, className, title, label }: { to: Route; children: ReactNode; className?: string; title?: string; label?: string }) {
  return (
    <a
      href={pathOf(to)}
      className={className}
      title={title}
      aria-label={label}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}
