// Notices tell the outcome of an action: what happened, or the server's
// reason for refusing it. Successes fade after a while; errors stay until
// dismissed, since they say what to fix.

import { createContext, type ReactNode, useCallback, useContext, useMemo, useState } from "react";

export interface Notice {
  id: number;
  kind: "ok" | "error";
  text: string;
}

interface Notices {
  notices: Notice[];
  add: (kind: Notice["kind"], text: string) => void;
  dismiss: (id: number) => void;
}

const NoticeContext = createContext<Notices | null>(null);

const okLifetime = 10_000;

export function NoticeProvider({ children }: { children: ReactNode }) {
  const [notices, setNotices] = useState<Notice[]>([]);
  const dismiss = useCallback((id: number) => setNotices((ns) => ns.filter((n) => n.id !== id)), []);
  const add = useCallback(
    (kind: Notice["kind"], text: string) => {
      const id = Date.now() + Math.random();
      setNotices((ns) => [...ns.slice(-4), { id, kind, text }]);
      if (kind === "ok") setTimeout(() => dismiss(id), okLifetime);
    },
    [dismiss],
  );
  const value = useMemo(() => ({ notices, add, dismiss }), [notices, add, dismiss]);
  return <NoticeContext.Provider value={value}>{children}</NoticeContext.Provider>;
}

export function useNotices(): Notices {
  const n = useContext(NoticeContext);
  if (!n) throw new Error("useNotices outside NoticeProvider");
  return n;
}

export function NoticeList() {
  const { notices, dismiss } = useNotices();
  return (
    <div className="notices">
      {notices.map((n) => (
        <div key={n.id} className={`notice notice-${n.kind}`} role={n.kind === "error" ? "alert" : "status"}>
          <span>{n.text}</span>
          <button type="button" className="link" aria-label="Dismiss" onClick={() => dismiss(n.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
