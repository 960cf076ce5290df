// The UI's few pages, as paths the API server answers with the UI itself:
//   /                     projects
//   /projects/{project}   a project's pipeline and Freight
//   /login                sign in

import { useEffect, useState } from "react";

export type Route = { page: "projects" } | { page: "project"; project: string } | { page: "login" };

export function parseRoute(path: string): Route {
  const m = /^\/projects\/([^/]+)\/?$/.exec(path);
  if (m) return { page: "project", project: decodeURIComponent(m[1]) };
  if (path === "/login") return { page: "login" };
  return { page: "projects" };
}

export function pathOf(r: Route): string {
  switch (r.page) {
    case "project":
      return `/projects/${encodeURIComponent(r.project)}`;
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
  if (window.location.pathname !== path) {
    if (replace) window.history.replaceState(null, "", path);
    else window.history.pushState(null, "", path);
  }
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.pathname));
  useEffect(() => {
    const on = () => setRoute(parseRoute(window.location.pathname));
    window.addEventListener("popstate", on);
    return () => window.removeEventListener("popstate", on);
  }, []);
  return route;
}
