// ProjectStore holds what the UI knows of one project: its Warehouses,
// Stages, Freight and Promotions, read once with list calls and then kept
// current by the API's watch streams. Watch events are applied in batches,
// once per animation frame at most, so that a burst (the replay at the
// start of a watch, a thousand Freight) costs one render, not a thousand.

import type { Client } from "../api/client";
import type { Freight, KindPath, ObjectMeta, Promotion, Stage, Warehouse, WatchEvent } from "../api/types";
import { compareNames, pipelineOrder } from "../pipeline/layout";

export interface ProjectSnapshot {
  warehouses: Warehouse[];
  // stages are in pipeline order: upstream first (pipelineOrder).
  stages: Stage[];
  // freight is newest first.
  freight: Freight[];
  freightByName: Map<string, Freight>;
  promotions: Map<string, Promotion>;
  // loaded is false until every kind was listed once.
  loaded: boolean;
  // error is why the project could not be read, or why live updates
  // stopped; it clears once they resume.
  error?: string;
  // live is true while every watch is connected.
  live: boolean;
}

type Obj = { metadata: ObjectMeta };

const kinds: KindPath[] = ["warehouses", "stages", "freight", "promotions"];

export function newestFirst(a: Freight, b: Freight): number {
  const ta = a.metadata.creationTimestamp ?? "";
  const tb = b.metadata.creationTimestamp ?? "";
  if (ta !== tb) return ta < tb ? 1 : -1;
  return compareNames(a.metadata.name, b.metadata.name);
}

const byName = (a: Obj, b: Obj) => compareNames(a.metadata.name, b.metadata.name);

export class ProjectStore {
  private readonly objects: Record<KindPath, Map<string, Obj>> = {
    warehouses: new Map(),
    stages: new Map(),
    freight: new Map(),
    promotions: new Map(),
  };
  private readonly pending: { kind: KindPath; events: WatchEvent<Obj>[] }[] = [];
  private readonly changed = new Set<KindPath>();
  private readonly listeners = new Set<() => void>();
  private readonly abort = new AbortController();
  private readonly connected = new Set<KindPath>();
  private flushScheduled = false;
  // freightReordered is set when a Freight came or went since the last
  // flush: the timeline's order must be worked out again.
  private freightReordered = false;
  private snapshot: ProjectSnapshot = {
    warehouses: [],
    stages: [],
    freight: [],
    freightByName: new Map(),
    promotions: new Map(),
    loaded: false,
    live: false,
  };

  constructor(
    private readonly client: Client,
    private readonly project: string,
    private readonly onUnauthorized: () => void = () => {},
    // schedule runs a flush later; tests pass one that runs at once.
    private readonly schedule: (f: () => void) => void = (f) => {
      if (typeof requestAnimationFrame === "function") requestAnimationFrame(() => f());
      else setTimeout(f, 0);
    },
  ) {}

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): ProjectSnapshot => this.snapshot;

  // start lists every kind and then keeps each current with a watch,
  // reconnecting (and listing again) when a watch breaks.
  start(): void {
    for (const kind of kinds) void this.follow(kind);
  }

  stop(): void {
    this.abort.abort();
    this.listeners.clear();
  }

  private async follow(kind: KindPath): Promise<void> {
    const signal = this.abort.signal;
    let backoff = 500;
    let listedOnce = false;
    while (!signal.aborted) {
      try {
        const items = await this.client.listAll<Obj>(this.project, kind, signal);
        this.replace(kind, items);
        listedOnce = true;
        this.setConnected(kind, true);
        backoff = 500;
        const end = await this.client.watch<Obj>(this.project, kind, (events) => this.enqueue(kind, events), signal);
        if (signal.aborted) return;
        // The server ends every watch after a while, so that the
        // caller's rights are checked afresh: list and watch again at
        // once, without telling the user.
        if (end === "reconnect") continue;
        this.setConnected(kind, false, `live updates of ${kind} ended; reconnecting`);
      } catch (e) {
        if (signal.aborted) return;
        const err = e as { unauthorized?: boolean; message?: string };
        if (err.unauthorized) {
          this.onUnauthorized();
          return;
        }
        const what = listedOnce ? `live updates of ${kind} stopped` : `could not read the project's ${kind}`;
        this.setConnected(kind, false, `${what}: ${err.message ?? String(e)}; retrying`);
      }
      await sleep(backoff, signal);
      backoff = Math.min(backoff * 2, 10_000);
    }
  }

  private replace(kind: KindPath, items: Obj[]): void {
    const m = this.objects[kind];
    m.clear();
    for (const o of items) m.set(o.metadata.name, o);
    this.changed.add(kind);
    if (kind === "freight") this.freightReordered = true;
    this.flush();
  }

  // enqueue queues watch events, to be applied at the next flush.
  enqueue(kind: KindPath, events: WatchEvent<Obj>[]): void {
    this.pending.push({ kind, events });
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.schedule(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const { kind, events } of this.pending.splice(0)) {
      const m = this.objects[kind];
      for (const ev of events) {
        const name = ev.object?.metadata?.name;
        if (!name || ev.type === "ERROR") continue;
        if (ev.type === "DELETED") {
          m.delete(name);
          if (kind === "freight") this.freightReordered = true;
        } else {
          const had = m.get(name);
          // The replay at a watch's start repeats what the list returned.
          if (had && had.metadata.resourceVersion === ev.object.metadata.resourceVersion) continue;
          if (kind === "freight" && had?.metadata.creationTimestamp !== ev.object.metadata.creationTimestamp) this.freightReordered = true;
          m.set(name, ev.object);
        }
        this.changed.add(kind);
      }
    }
    if (this.changed.size === 0) return;
    const s = { ...this.snapshot };
    if (this.changed.has("warehouses")) s.warehouses = ([...this.objects.warehouses.values()] as Warehouse[]).sort(byName);
    if (this.changed.has("stages") || this.changed.has("warehouses"))
      s.stages = pipelineOrder(s.warehouses, ([...this.objects.stages.values()] as Stage[]).sort(byName));
    if (this.changed.has("freight")) {
      s.freightByName = new Map(this.objects.freight as Map<string, Freight>);
      // A Freight's status changing (every promotion verifies one) keeps
      // the order: the 10,000 are put in place, not sorted again.
      const m = this.objects.freight as Map<string, Freight>;
      s.freight = this.freightReordered ? [...m.values()].sort(newestFirst) : s.freight.map((f) => m.get(f.metadata.name)!);
      this.freightReordered = false;
    }
    if (this.changed.has("promotions")) s.promotions = new Map(this.objects.promotions as Map<string, Promotion>);
    this.changed.clear();
    this.publish(s);
  }

  private setConnected(kind: KindPath, ok: boolean, error?: string): void {
    if (ok) this.connected.add(kind);
    else this.connected.delete(kind);
    const s = { ...this.snapshot, live: this.connected.size === kinds.length };
    s.loaded ||= this.connected.size === kinds.length;
    s.error = ok ? (s.live ? undefined : s.error) : error;
    this.publish(s);
  }

  private publish(s: ProjectSnapshot): void {
    this.snapshot = s;
    for (const l of this.listeners) l();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });
}
