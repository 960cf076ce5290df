// The UI's client of kargo's API server (internal/server; docs/api.md).
// Every request carries the signed-in user's bearer token; every error
// becomes an ApiError holding the server's own message, which says what
// was refused and why.

import { SSEParser } from "./sse";
import type { Access, AuditRecord, Freeze, Freight, Gates, KindPath, List, ManifestResult, Project, Promotion, PromotionCommits, Stage, Status, Warehouse, WatchEvent, WhoAmI } from "./types";

export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;

  constructor(code: number, reason: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.reason = reason;
  }

  get forbidden(): boolean {
    return this.code === 403;
  }

  get unauthorized(): boolean {
    return this.code === 401;
  }
}

// inBrowserTerms rewrites the server's 401, which tells a CLI user to "run
// `kargo login`", for a browser user, who signs in again.
export function inBrowserTerms(message: string): string {
  const why = message.replace(/:?\s*run `kargo login`.*$/s, "").replace(/[.\s]+$/, "") || "you are not signed in";
  return `${why.charAt(0).toUpperCase()}${why.slice(1)}. Sign in again.`;
}

// errorFrom reads the Status body of a failed response.
export async function errorFrom(res: Response): Promise<ApiError> {
  const text = await res.text();
  let status: Partial<Status> = {};
  try {
    status = JSON.parse(text) as Partial<Status>;
  } catch {
    // not a Status: a proxy's page, say
  }
  let message = status.message || text.trim() || `${res.status} ${res.statusText}`;
  if (res.status === 401) message = inBrowserTerms(message);
  return new ApiError(res.status, status.reason ?? res.statusText, message);
}

// The largest page the API serves: a project's Freight arrives in a page
// or two, which is faster than many small ones.
const pageLimit = 5000;

// AuditQuery selects a page of the audit trail.
export interface AuditQuery {
  stage?: string;
  since?: string;
  limit?: number;
  cont?: string;
}

export class Client {
  constructor(
    private readonly token: string,
    private readonly base = "",
    private readonly fetchFn: typeof fetch = (...args) => fetch(...args),
  ) {}

  private async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchFn(this.base + path, {
        method,
        signal,
        headers: {
          Authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new ApiError(0, "Unreachable", `the kargo API server did not answer: ${(e as Error).message}`);
    }
    if (!res.ok) throw await errorFrom(res);
    return (await res.json()) as T;
  }

  whoAmI(): Promise<WhoAmI> {
    return this.request("GET", "/api/v1/whoami");
  }

  async projects(): Promise<Project[]> {
    return (await this.request<List<Project>>("GET", "/api/v1/projects")).items;
  }

  // listAll reads every page of a kind in a project.
  async listAll<T>(project: string, kind: KindPath, signal?: AbortSignal): Promise<T[]> {
    const items: T[] = [];
    let cont = "";
    do {
      const q = new URLSearchParams({ limit: String(pageLimit) });
      if (cont) q.set("continue", cont);
      const page = await this.request<List<T>>("GET", `${projectPath(project)}/${kind}?${q}`, undefined, signal);
      items.push(...page.items);
      cont = page.continue ?? "";
    } while (cont);
    return items;
  }

  // access asks what the caller may do in the project: promote to and
  // approve for each of stages, and rename Freight.
  access(project: string, stages: string[], signal?: AbortSignal): Promise<Access> {
    const q = new URLSearchParams(stages.map((s) => ["stage", s]));
    return this.request("GET", `${projectPath(project)}/access?${q}`, undefined, signal);
  }

  // promotionCommits reads the commits a Promotion made, with their
  // diffs, from the Git server (through the API server).
  promotionCommits(project: string, promotion: string, signal?: AbortSignal): Promise<PromotionCommits> {
    return this.request("GET", `${projectPath(project)}/promotions/${enc(promotion)}/commits`, undefined, signal);
  }

  // promote promotes Freight into a Stage; overrideWindow runs it through
  // the Stage's closed promotion windows (the server checks the
  // override-window verb, and the audit trail records the override).
  promote(project: string, stage: string, freight: string, overrideWindow = false): Promise<Promotion> {
    return this.request("POST", `${projectPath(project)}/stages/${enc(stage)}/promote`, overrideWindow ? { freight, overrideWindow } : { freight });
  }

  // auditPage reads a page of the project's audit trail, newest first:
  // the records about stage (when given) at or after since (a duration
  // back from now, such as 24h, or an RFC 3339 time), limit at a time
  // from the page that cont (a continue token) names.
  auditPage(project: string, opts: AuditQuery, signal?: AbortSignal): Promise<List<AuditRecord>> {
    const q = new URLSearchParams();
    if (opts.stage) q.set("stage", opts.stage);
    if (opts.since) q.set("since", opts.since);
    if (opts.limit) q.set("limit", String(opts.limit));
    if (opts.cont) q.set("continue", opts.cont);
    return this.request("GET", `${projectPath(project)}/audit?${q}`, undefined, signal);
  }

  // gates asks whether promotions may start in the project's Stages now
  // (stages, when given, names them: the answer then says whether the
  // caller may override closed windows too), as the server decides it.
  gates(project: string, stages: string[] = [], signal?: AbortSignal): Promise<Gates> {
    const q = new URLSearchParams(stages.map((s) => ["stage", s]));
    return this.request("GET", `${projectPath(project)}/gates?${q}`, undefined, signal);
  }

  // verify verifies the Stage's current Freight again (abort: stops the
  // running verification instead).
  verify(project: string, stage: string, abort = false): Promise<Stage> {
    return this.request("POST", `${projectPath(project)}/stages/${enc(stage)}/verify`, { abort });
  }

  // refresh makes a Stage or Warehouse look for new artifacts now.
  refresh(project: string, kind: "stages" | "warehouses", name: string): Promise<Stage | Warehouse> {
    return this.request("POST", `${projectPath(project)}/${kind}/${enc(name)}/refresh`);
  }

  // manifests applies or creates every object of YAML manifests, as the
  // caller; dryRun checks them without writing.
  manifests(op: "apply" | "create", manifests: string, dryRun: boolean): Promise<ManifestResult> {
    return this.request("POST", `/api/v1/${op}`, { manifests, dryRun });
  }

  approve(project: string, freight: string, stage: string, comment = ""): Promise<Freight> {
    return this.request("POST", `${projectPath(project)}/freight/${enc(freight)}/approve`, comment ? { stage, comment } : { stage });
  }

  // hold stops Promotions into the Stage from starting until it is
  // released; the server checks the hold verb and records the caller.
  hold(project: string, stage: string, reason: string): Promise<Stage> {
    return this.request("POST", `${projectPath(project)}/stages/${enc(stage)}/hold`, { reason });
  }

  // release ends the Stage's hold (the release verb); its waiting
  // Promotions then run in order.
  release(project: string, stage: string): Promise<Stage> {
    return this.request("POST", `${projectPath(project)}/stages/${enc(stage)}/release`);
  }

  // freeze is the project's freeze, or null (needs list on stages).
  freeze(project: string): Promise<Freeze> {
    return this.request("GET", `${projectPath(project)}/freeze`);
  }

  // abortPromotion asks a Pending or Running Promotion to stop at its next
  // safe point; the server checks the promote verb on its Stage.
  abortPromotion(project: string, promotion: string): Promise<Promotion> {
    return this.request("POST", `${projectPath(project)}/promotions/${enc(promotion)}/abort`, {});
  }

  setAlias(project: string, freight: string, alias: string): Promise<Freight> {
    return this.request("POST", `${projectPath(project)}/freight/${enc(freight)}/alias`, { alias });
  }

  // watch streams the changes of a kind in a project to onEvents, a batch
  // at a time (the first batches replay every current object as ADDED).
  // It resolves with "reconnect" when the server ended the stream because
  // it reached its lifetime (the caller opens a new one at once), with
  // "ended" when the server ended it otherwise or signal aborts; it rejects
  // when the stream breaks, the server refuses it, or the server ends it
  // because the caller may no longer watch (an ERROR event: 401 or 403).
  async watch<T>(
    project: string,
    kind: KindPath,
    onEvents: (events: WatchEvent<T>[]) => void,
    signal: AbortSignal,
  ): Promise<"reconnect" | "ended"> {
    const res = await this.fetchFn(`${this.base}${projectPath(project)}/${kind}?watch=true`, {
      headers: { Authorization: `Bearer ${this.token}`, Accept: "text/event-stream" },
      signal,
    });
    if (!res.ok) throw await errorFrom(res);
    if (!res.body) throw new ApiError(0, "NoBody", `watch ${kind}: the response has no body`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SSEParser();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return "ended";
        const batch: WatchEvent<T>[] = [];
        for (const d of parser.push(value)) {
          const ev = JSON.parse(d) as WatchEvent<T>;
          if (ev.type === "SYNCED") continue;
          if (ev.type === "RECONNECT" || ev.type === "ERROR") {
            if (batch.length > 0) onEvents(batch);
            if (ev.type === "RECONNECT") return "reconnect";
            const st = (ev.object ?? {}) as Status;
            throw new ApiError(st.code ?? 0, st.reason ?? "WatchEnded", st.message ?? `the server ended the watch of ${kind}`);
          }
          batch.push(ev);
        }
        if (batch.length > 0) onEvents(batch);
      }
    } catch (e) {
      if (signal.aborted) return "ended";
      throw e;
    } finally {
      reader.releaseLock();
    }
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

function projectPath(project: string): string {
  return `/api/v1/projects/${enc(project)}`;
}
