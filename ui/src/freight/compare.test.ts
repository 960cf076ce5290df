import { describe, expect, it } from "vitest";
import type { Freight } from "../api/types";
import { commitLink, compare } from "./compare";

const f = (images: [string, string][], commits: [string, string][] = [], charts: [string, string, string][] = []): Freight => ({
  metadata: { name: "x" },
  images: images.map(([repoURL, tag]) => ({ repoURL, tag })),
  commits: commits.map(([repoURL, id]) => ({ repoURL, id })),
  charts: charts.map(([repoURL, name, version]) => ({ repoURL, name, version })),
});

describe("compare", () => {
  it("says which images, commits and charts change, the changes first", () => {
    const inStage = f([["nginx", "1.25.0"], ["redis", "7"]], [["https://git.example.com/a.git", "aaaaaaaaaa"]], [["oci://charts", "app", "1.0.0"]]);
    const other = f([["nginx", "1.26.0"], ["redis", "7"]], [["https://git.example.com/a.git", "bbbbbbbbbb"]], [["oci://charts", "db", "2.0.0"]]);
    expect(compare(inStage, other)).toEqual([
      { kind: "image", key: "nginx", from: "1.25.0", to: "1.26.0", change: "changed" },
      { kind: "commit", key: "https://git.example.com/a.git", from: "aaaaaaa", to: "bbbbbbb", change: "changed" },
      { kind: "chart", key: "oci://charts db", from: "", to: "2.0.0", change: "added" },
      { kind: "chart", key: "oci://charts app", from: "1.0.0", to: "", change: "removed" },
      { kind: "image", key: "redis", from: "7", to: "7", change: "same" },
    ]);
  });

  it("compares with a Stage that holds no Freight: everything is added", () => {
    expect(compare(undefined, f([["nginx", "1.26.0"]])).map((c) => c.change)).toEqual(["added"]);
  });
});

describe("commitLink", () => {
  it("links commits of https repositories only, never with userinfo", () => {
    expect(commitLink("https://github.com/o/r.git", "abc")).toBe("https://github.com/o/r/commit/abc");
    expect(commitLink("http://127.0.0.1/o/r.git", "abc")).toBeUndefined();
    expect(commitLink("git@github.com:o/r.git", "abc")).toBeUndefined();
    expect(commitLink("https://user:pw@github.com/o/r.git", "abc")).toBeUndefined();
  });
});
