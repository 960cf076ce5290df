import { describe, expect, it } from "vitest";
import { editable, fieldPaths, lineOf, toYAML } from "./yaml";

describe("toYAML", () => {
  it("writes block YAML, quoting what would read as something else", () => {
    const y = toYAML({ metadata: { name: "w" }, spec: { interval: "5m", on: "true", n: 3, subscriptions: { images: [{ repoURL: "nginx", tags: ["1", "a: b"] }] }, empty: [] } });
    expect(y).toBe(
      'metadata:\n  name: w\nspec:\n  interval: 5m\n  "on": "true"\n  n: 3\n  subscriptions:\n    images:\n    - repoURL: nginx\n      tags:\n      - "1"\n      - "a: b"\n  empty: []\n',
    );
  });

  it("leaves out status and the metadata the server keeps", () => {
    const o = editable({ metadata: { name: "w", namespace: "p", uid: "u", resourceVersion: "1", managedFields: [] }, spec: { x: 1 }, status: { y: 2 } } as never, "kargo.akuity.io/v1alpha1", "Warehouse");
    expect(o).toEqual({ apiVersion: "kargo.akuity.io/v1alpha1", kind: "Warehouse", metadata: { name: "w", namespace: "p" }, spec: { x: 1 } });
  });
});

describe("the line a validation message refers to", () => {
  const text = `apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: w
  namespace: p
spec:
  interval: soon
  subscriptions:
    images:
    - repoURL: nginx
    - repoURL: ""
      semverConstraint: x
`;
  it("reads the field paths of the server's message", () => {
    expect(fieldPaths('Warehouse.kargo.akuity.io "w" is invalid: spec.interval: Invalid value: "soon": spec.interval in body should match')).toEqual(["spec.interval"]);
    expect(fieldPaths("[spec.subscriptions.images[1].repoURL: Required value, metadata.name: x]")).toEqual(["spec.subscriptions.images[1].repoURL", "metadata.name"]);
  });

  it("finds the line by indentation, items by index", () => {
    expect(lineOf(text, "spec.interval")).toBe(7);
    expect(lineOf(text, "spec.subscriptions.images[1].repoURL")).toBe(11);
    expect(lineOf(text, "spec.subscriptions.images[1].semverConstraint")).toBe(12);
    expect(lineOf(text, "spec.subscriptions.images[0]")).toBe(10);
    expect(lineOf(text, "metadata.name")).toBe(4);
    expect(lineOf(text, "spec.missing")).toBe(6);
    expect(lineOf(text, "status.x")).toBeUndefined();
  });

  it("looks in the document the result is of", () => {
    const two = "---\nkind: A\nspec:\n  a: 1\n---\nkind: B\nspec:\n  x: 1\n  a: 2\n";
    expect(lineOf(two, "spec.a", 0)).toBe(4);
    expect(lineOf(two, "spec.a", 1)).toBe(9);
  });
});
