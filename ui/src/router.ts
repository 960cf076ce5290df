// The UI's pages, as paths the API server answers with the UI itself:
//   /                                   projects
//   /projects/{project}                 a project's pipeline and Freight
//   /projects/{project}/{kind}/{name}   one Stage, Promotion, Freight or Warehouse of it
//   /projects/{project}/audit[?stage=S] its audit trail (about one Stage)
//   /login                              sign in

import { useEffect, useState } from "react";

// DetailKind is a kind that has a page of its own, by its URL segment.
export type DetailKind = "stages" | "promotions" | "freight" | "warehouses";
const detailKinds: DetailKind[] = ["stages", "promotions", "freight", "warehouses"];

export type Route =
  | { page: "projects" }
  | { page: "project"; project: string; kind?: DetailKind; name?: string }
  | { page: "audit"; project: string; stage?: string }
  | { page: "login" };

export function parseRoute(path: string, search = ""): Route {
  const a = /^\/projects\/([^/]+)\/audit\/?$/.exec(path);
  if (a) {
    const stage = new URLSearchParams(search).get("stage");
    return stage ? { page: "audit", project: decodeURIComponent(a[1]), stage } : { page: "audit", project: decodeURIComponent(a[1]) };
  }
  const m = /^\/projects\/([^/]+)(?:\/([a-z]+)\/([^/]+))?\/?$/.exec(path);
  if (m) {
    const project = decodeURIComponent(m[1]);
    if (m[2] && detailKinds.includes(m[2] as DetailKind)) {
      return { page: "project", project, kind: m[2] as DetailKind, name: decodeURIComponent(m[3]) };
    }
    if (!m[2]) return { page: "project", project };
  }
  if (path === "/login") return { page: "login" };
  return { page: "projects" };
}

export function pathOf(r: Route): string {
  switch (r.page) {
    case "project": {
      const base = `/projects/${encodeURIComponent(r.project)}`;
      return r.kind && r.name ? `${base}/${r.kind}/${encodeURIComponent(r.name)}` : base;
    }
    case "audit": {
      const base = `/projects/${encodeURIComponent(r.project)}/audit`;
      return r.stage ? `${base}?${new URLSearchParams({ stage: r.stage })}` : base;
    }
    case "login":
      return "/login";
    default:
      return "/";
  }
}

// navigate shows r; with replace, in place of the current page in the
// browser's history, so that Back skips it.
export function navigate(r: Route, { replace = false }: { replace?: boolean } = {}): void {
  const path = pathOf(r);
  if (window.location.pathname + window.location.search !== path) {
    if (replace) window.history.replaceState(null, "", path);
    else window.history.pushState(null, "", path);
  }
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.pathname, window.location.search));
  useEffect(() => {
    const on = () => setRoute(parseRoute(window.location.pathname, window.location.search));
    window.addEventListener("popstate", on);
    return () => window.removeEventListener("popstate", on);
  }, []);
  return route;
}
