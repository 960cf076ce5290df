// The UI's modules import one another without cycles, as the Go packages
// do: a cycle (App importing the pages that imported App for its Session
// type was the last) makes the order modules initialise in depend on who
// imports first.

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const src = path.resolve(__dirname);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.tsx?$/.test(name) && !/\.test\.tsx?$/.test(name) ? [p] : [];
  });
}

// imports returns the modules of src that file imports, types included.
function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gms)) {
    const base = path.resolve(path.dirname(file), m[1]);
    const found = [base, `${base}.ts`, `${base}.tsx`, `${base}.d.ts`, path.join(base, "index.ts")].find(
      (p) => existsSync(p) && statSync(p).isFile(),
    );
    if (found && !found.endsWith(".css")) out.push(found);
  }
  return out;
}

// cycle returns a chain of imports that leads back to its start, or null.
function cycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    if (state.get(n) === "done") return null;
    if (state.get(n) === "visiting") return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, "visiting");
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      const c = visit(m);
      if (c) return c;
    }
    stack.pop();
    state.set(n, "done");
    return null;
  };
  for (const n of graph.keys()) {
    const c = visit(n);
    if (c) return c;
  }
  return null;
}

describe("imports", () => {
  it("finds a cycle when there is one", () => {
    expect(cycle(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]]]))).toEqual(["a", "b", "c", "a"]);
    expect(cycle(new Map([["a", ["b", "c"]], ["b", ["c"]], ["c", []]]))).toBeNull();
  });

  it("have no cycle among the UI's modules", () => {
    const graph = new Map(sources(src).map((f) => [f, imports(f)]));
    expect(graph.size).toBeGreaterThan(20);
    const c = cycle(graph);
    expect(c?.map((f) => path.relative(src, f)).join(" → ") ?? "no cycle").toBe("no cycle");
  });
});
