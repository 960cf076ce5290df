import { beforeEach, describe, expect, it, vi } from "vitest";
import { challengeOf, finishSignIn } from "./sso";

describe("single sign-on", () => {
  beforeEach(() => window.sessionStorage.clear());

  it("computes the S256 challenge: base64url of the SHA-256 (as openssl computes it)", async () => {
    expect(await challengeOf("dBjftJeZ4CVP-mJ92IFmLz3jWnN4KLvbwLk3bGQ0pZ8")).toBe("kiVQhmUYrHmnBP9M3gAB4nWE9VaOl-fgleHtNJw8cQE");
  });

  const pending = {
    state: "s1",
    verifier: "v1",
    tokenEndpoint: "https://idp.example/token",
    clientID: "kargo-ui",
    redirectURI: "http://localhost/login/callback",
  };

  it("refuses an answer to a sign-in this tab did not start, without redeeming its code", async () => {
    window.sessionStorage.setItem("kargo.sso.pending", JSON.stringify(pending));
    const fetchFn = vi.fn();
    await expect(finishSignIn("?code=c&state=other", fetchFn)).rejects.toThrow(/not for this sign-in/);
    await expect(finishSignIn("?code=c&state=s1", fetchFn)).rejects.toThrow(/no sign-in was started/);
    expect(fetchFn).not.toHaveBeenCalled();
  });

  it("redeems the code with the verifier and returns the ID token", async () => {
    window.sessionStorage.setItem("kargo.sso.pending", JSON.stringify(pending));
    const fetchFn = vi.fn(async () => new Response(JSON.stringify({ id_token: "id.token.here" }), { status: 200 }));
    expect(await finishSignIn("?code=c1&state=s1", fetchFn as unknown as typeof fetch)).toBe("id.token.here");
    const [url, init] = fetchFn.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe(pending.tokenEndpoint);
    const body = new URLSearchParams(init.body as string);
    expect(body.get("code_verifier")).toBe("v1");
    expect(body.get("code")).toBe("c1");
    expect(body.get("client_id")).toBe("kargo-ui");
  });

  it("says why the provider refused", async () => {
    await expect(finishSignIn("?error=access_denied&error_description=no+way")).rejects.toThrow(/refused the sign-in: no way/);
  });
});
