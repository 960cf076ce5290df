// Single sign-on through the OpenID provider the API server names
// (GET /api/v1/auth/config): the authorization-code flow with PKCE, all in
// the browser. The UI is a public client: it has no secret, so the code
// the provider sends back to /login/callback is useless without the
// verifier, which never leaves this tab's sessionStorage. The ID token the
// provider returns is the bearer token the API server accepts, kept like a
// pasted one (auth.ts).

import type { AuthConfig } from "./api/types";

export type OIDCConfig = NonNullable<AuthConfig["oidc"]>;

export const callbackPath = "/login/callback";
const pendingKey = "kargo.sso.pending";

interface Pending {
  state: string;
  verifier: string;
  tokenEndpoint: string;
  clientID: string;
  redirectURI: string;
}

// authConfig returns the server's OpenID provider, or null without one.
export async function authConfig(fetchFn: typeof fetch = fetch): Promise<OIDCConfig | null> {
  const res = await fetchFn("/api/v1/auth/config", { headers: { Accept: "application/json" } });
  if (!res.ok) return null;
  const body = (await res.json()) as AuthConfig;
  return body.oidc ?? null;
}

function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

// challengeOf is the S256 code challenge of a verifier (RFC 7636).
export async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

async function discover(issuer: string, fetchFn: typeof fetch): Promise<{ authorization_endpoint: string; token_endpoint: string }> {
  const res = await fetchFn(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
  if (!res.ok) throw new Error(`the OpenID provider ${issuer} did not answer its discovery document: ${res.status}`);
  return res.json();
}

// startSignIn sends the browser to the provider's sign-in page.
export async function startSignIn(cfg: OIDCConfig, fetchFn: typeof fetch = fetch): Promise<void> {
  const doc = await discover(cfg.issuerURL, fetchFn);
  const pending: Pending = {
    state: randomString(),
    verifier: randomString(),
    tokenEndpoint: doc.token_endpoint,
    clientID: cfg.clientID,
    redirectURI: window.location.origin + callbackPath,
  };
  window.sessionStorage.setItem(pendingKey, JSON.stringify(pending));
  const url = new URL(doc.authorization_endpoint);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", cfg.clientID);
  url.searchParams.set("redirect_uri", pending.redirectURI);
  url.searchParams.set("scope", cfg.scopes.join(" "));
  url.searchParams.set("state", pending.state);
  url.searchParams.set("code_challenge", await challengeOf(pending.verifier));
  url.searchParams.set("code_challenge_method", "S256");
  window.location.assign(url.toString());
}

// finishSignIn redeems the code the provider sent back to /login/callback
// and returns the ID token. It throws with a reason a user can read.
export async function finishSignIn(search: string, fetchFn: typeof fetch = fetch): Promise<string> {
  const params = new URLSearchParams(search);
  const raw = window.sessionStorage.getItem(pendingKey);
  window.sessionStorage.removeItem(pendingKey);
  if (params.get("error")) {
    throw new Error(`the provider refused the sign-in: ${params.get("error_description") || params.get("error")}`);
  }
  if (!raw) throw new Error("no sign-in was started in this tab: sign in again");
  const pending = JSON.parse(raw) as Pending;
  // The state ties the answer to the sign-in this tab started: a link
  // from elsewhere cannot sign the user in as someone else.
  if (params.get("state") !== pending.state) throw new Error("the sign-in answer is not for this sign-in: sign in again");
  const code = params.get("code");
  if (!code) throw new Error("the provider's answer carries no code: sign in again");
  const res = await fetchFn(pending.tokenEndpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: pending.redirectURI,
      client_id: pending.clientID,
      code_verifier: pending.verifier,
    }).toString(),
  });
  const body = (await res.json().catch(() => ({}))) as { id_token?: string; error?: string; error_description?: string };
  if (!res.ok || !body.id_token) {
    throw new Error(`the provider did not give an ID token: ${body.error_description || body.error || res.status}`);
  }
  return body.id_token;
}
