import { describe, expect, it } from "vitest";
import { ApiError, Client, inBrowserTerms } from "./client";

function respond(status: number, body: string, contentType = "application/json"): typeof fetch {
  return async () => new Response(body, { status, headers: { "Content-Type": contentType } });
}

describe("Client", () => {
  it("turns a Status body into an ApiError with the server's message", async () => {
    const status = {
      kind: "Status",
      code: 403,
      reason: "Forbidden",
      message: 'bob may not promote to Stage "prod" in project "kargo-demo": no promote verb on stages/prod',
    };
    const c = new Client("t", "", respond(403, JSON.stringify(status)));
    const err = await c.promote("kargo-demo", "prod", "abc").catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.forbidden).toBe(true);
    expect(err.message).toBe(status.message);
  });

  it("tells a browser user whose token was refused to sign in again, not to run kargo login", async () => {
    const status = {
      kind: "Status",
      code: 401,
      reason: "Unauthorized",
      message: "the bearer token was not accepted (expired, revoked or for another cluster): run `kargo login` again",
    };
    const c = new Client("t", "", respond(401, JSON.stringify(status)));
    const err = await c.whoAmI().catch((e) => e);
    expect(err.unauthorized).toBe(true);
    expect(err.message).toBe("The bearer token was not accepted (expired, revoked or for another cluster). Sign in again.");
    expect(inBrowserTerms("no bearer token: run `kargo login` to sign in to the kargo API server")).toBe("No bearer token. Sign in again.");
    expect(inBrowserTerms("the ID token has expired.")).toBe("The ID token has expired. Sign in again.");
  });

  it("asks what the caller may do about each Stage", async () => {
    let asked = "";
    const answer = { stages: { prod: { promote: { allowed: false, reason: "no" }, approve: { allowed: false, reason: "no" } } }, rename: { allowed: true } };
    const fetchFn: typeof fetch = async (input) => {
      asked = String(input);
      return new Response(JSON.stringify(answer), { status: 200 });
    };
    const got = await new Client("t", "", fetchFn).access("kargo demo", ["test", "prod"]);
    expect(asked).toBe("/api/v1/projects/kargo%20demo/access?stage=test&stage=prod");
    expect(got).toEqual(answer);
  });

  it("keeps a body that is not a Status as the message", async () => {
    const c = new Client("t", "", respond(502, "bad gateway\n", "text/plain"));
    const err = await c.whoAmI().catch((e) => e);
    expect(err.code).toBe(502);
    expect(err.message).toBe("bad gateway");
  });

  it("reads every page of a list, passing the continue token on", async () => {
    const seen: string[] = [];
    const fetchFn: typeof fetch = async (input) => {
      const url = new URL(String(input), "http://x");
      seen.push(url.search);
      const cont = url.searchParams.get("continue");
      const body = cont
        ? { kind: "FreightList", items: [{ n: 2 }], total: 2 }
        : { kind: "FreightList", items: [{ n: 1 }], continue: "next", total: 2 };
      return new Response(JSON.stringify(body), { status: 200 });
    };
    const items = await new Client("t", "", fetchFn).listAll("p", "freight");
    expect(items).toEqual([{ n: 1 }, { n: 2 }]);
    expect(seen).toEqual(["?limit=5000", "?limit=5000&continue=next"]);
  });

  it("sends the bearer token and the JSON body the endpoint takes", async () => {
    let got: RequestInit | undefined;
    let url = "";
    const fetchFn: typeof fetch = async (input, init) => {
      url = String(input);
      got = init;
      return new Response("{}", { status: 200 });
    };
    await new Client("secret", "", fetchFn).approve("kargo-demo", "mortal-dragonfly", "prod");
    expect(url).toBe("/api/v1/projects/kargo-demo/freight/mortal-dragonfly/approve");
    expect(got?.method).toBe("POST");
    expect((got?.headers as Record<string, string>).Authorization).toBe("Bearer secret");
    expect(JSON.parse(String(got?.body))).toEqual({ stage: "prod" });
  });

  it("streams watch events in batches until the server ends the stream", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(ctl) {
        const enc = new TextEncoder();
        ctl.enqueue(enc.encode('data: {"type":"ADDED","object":{"n":1}}\n\ndata: {"type":"ADD'));
        ctl.enqueue(enc.encode('ED","object":{"n":2}}\n\n'));
        ctl.close();
      },
    });
    const fetchFn: typeof fetch = async () => new Response(body, { status: 200 });
    const batches: unknown[][] = [];
    await new Client("t", "", fetchFn).watch("p", "stages", (evs) => batches.push(evs.map((e) => e.object)), new AbortController().signal);
    expect(batches).toEqual([[{ n: 1 }], [{ n: 2 }]]);
  });

  it("keeps SYNCED to itself, and says reconnect when the server ends a watch at its lifetime", async () => {
    const stream = 'data: {"type":"ADDED","object":{"n":1}}\n\ndata: {"type":"SYNCED"}\n\ndata: {"type":"RECONNECT"}\n\n';
    const fetchFn: typeof fetch = async () => new Response(stream, { status: 200 });
    const batches: unknown[][] = [];
    const end = await new Client("t", "", fetchFn).watch("p", "stages", (evs) => batches.push(evs.map((e) => e.type)), new AbortController().signal);
    expect(end).toBe("reconnect");
    expect(batches).toEqual([["ADDED"]]);
  });

  it("rejects with the server's refusal when it ends a watch with an ERROR event", async () => {
    const stream = 'data: {"type":"ERROR","object":{"kind":"Status","code":403,"reason":"Forbidden","message":"no longer"}}\n\n';
    const fetchFn: typeof fetch = async () => new Response(stream, { status: 200 });
    const watching = new Client("t", "", fetchFn).watch("p", "stages", () => {}, new AbortController().signal);
    await expect(watching).rejects.toMatchObject({ code: 403, message: "no longer" });
  });
});
