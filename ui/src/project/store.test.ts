import { describe, expect, it } from "vitest";
import { Client } from "../api/client";
import type { Freight } from "../api/types";
import { ProjectStore } from "./store";

// A server for one project: lists answer from `objects`, watches stream
// what the test sends through `send`.
function server(objects: Record<string, object[]>) {
  const streams: Record<string, ReadableStreamDefaultController<Uint8Array>> = {};
  const enc = new TextEncoder();
  const fetchFn: typeof fetch = async (input) => {
    const url = new URL(String(input), "http://x");
    const kind = url.pathname.split("/").pop()!;
    if (url.searchParams.get("watch") === "true") {
      const body = new ReadableStream<Uint8Array>({ start: (c) => void (streams[kind] = c) });
      return new Response(body, { status: 200 });
    }
    return new Response(JSON.stringify({ kind: "List", items: objects[kind] ?? [], total: 0 }), { status: 200 });
  };
  const send = (kind: string, ...events: object[]) =>
    streams[kind].enqueue(enc.encode(events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("")));
  return { client: new Client("t", "", fetchFn), send, streams };
}

const fr = (name: string, rv: string, ts: string, alias = name): Freight => ({
  metadata: { name, resourceVersion: rv, creationTimestamp: ts },
  alias,
});

async function until(f: () => boolean) {
  for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(f()).toBe(true);
}

describe("ProjectStore", () => {
  it("lists, then applies watch events: newest Freight first, deletions, renames", async () => {
    const old = fr("a", "1", "2026-11-01T00:00:00Z");
    const srv = server({ freight: [old], stages: [], warehouses: [], promotions: [] });
    const store = new ProjectStore(srv.client, "p", () => {}, (f) => f());
    let renders = 0;
    store.subscribe(() => renders++);
    store.start();
    await until(() => store.getSnapshot().live && Object.keys(srv.streams).length === 4);
    expect(store.getSnapshot().freight.map((f) => f.alias)).toEqual(["a"]);

    const before = renders;
    srv.send("freight", { type: "ADDED", object: old }); // the watch's replay
    await new Promise((r) => setTimeout(r, 20));
    expect(renders).toBe(before);

    srv.send(
      "freight",
      { type: "ADDED", object: fr("b", "2", "2026-11-02T00:00:00Z") },
      { type: "MODIFIED", object: fr("a", "3", "2026-11-01T00:00:00Z", "renamed") },
    );
    await until(() => store.getSnapshot().freight.length === 2);
    expect(store.getSnapshot().freight.map((f) => f.alias)).toEqual(["b", "renamed"]);
    expect(store.getSnapshot().freightByName.get("a")?.alias).toBe("renamed");

    srv.send("freight", { type: "DELETED", object: fr("b", "4", "2026-11-02T00:00:00Z") });
    await until(() => store.getSnapshot().freight.length === 1);
    store.stop();
  });

  it("says live updates stopped when a watch ends, and recovers by listing again", async () => {
    const srv = server({ freight: [], stages: [], warehouses: [], promotions: [] });
    const store = new ProjectStore(srv.client, "p", () => {}, (f) => f());
    store.start();
    await until(() => store.getSnapshot().live && Object.keys(srv.streams).length === 4);
    const first = srv.streams.stages;
    first.close();
    await until(() => !store.getSnapshot().live);
    expect(store.getSnapshot().error).toContain("live updates of stages ended");
    await until(() => store.getSnapshot().live && srv.streams.stages !== first);
    expect(store.getSnapshot().error).toBeUndefined();
    store.stop();
  });

  it("reconnects at once, and quietly, when the server ends a watch at its lifetime", async () => {
    const srv = server({ freight: [], stages: [], warehouses: [], promotions: [] });
    const store = new ProjectStore(srv.client, "p", () => {}, (f) => f());
    store.start();
    await until(() => store.getSnapshot().live && Object.keys(srv.streams).length === 4);
    let lost = false;
    store.subscribe(() => (lost ||= !store.getSnapshot().live));
    const first = srv.streams.stages;
    srv.send("stages", { type: "SYNCED" }, { type: "RECONNECT" });
    await until(() => srv.streams.stages !== first);
    expect(lost).toBe(false);
    expect(store.getSnapshot().error).toBeUndefined();
    store.stop();
  });

  it("stops live updates when the server ends a watch because the user may no longer watch", async () => {
    const srv = server({ freight: [], stages: [], warehouses: [], promotions: [] });
    const store = new ProjectStore(srv.client, "p", () => {}, (f) => f());
    store.start();
    await until(() => store.getSnapshot().live && Object.keys(srv.streams).length === 4);
    srv.send("stages", { type: "ERROR", object: { kind: "Status", code: 403, reason: "Forbidden", message: 'user "u" may not watch stages' } });
    await until(() => !store.getSnapshot().live);
    expect(store.getSnapshot().error).toContain('user "u" may not watch stages');
    store.stop();
  });

  it("hands a refused token back to be signed in again", async () => {
    const fetchFn: typeof fetch = async () =>
      new Response(JSON.stringify({ code: 401, reason: "Unauthorized", message: "the bearer token was not accepted" }), { status: 401 });
    let signedOut = 0;
    const store = new ProjectStore(new Client("t", "", fetchFn), "p", () => signedOut++, (f) => f());
    store.start();
    await until(() => signedOut === 4);
    store.stop();
  });
});
