// Login offers single sign-on when the server has an OpenID provider, and
// takes a bearer token: the one in the link kargo local prints signs in as
// its administrator; on a cluster, any Kubernetes token of the user's (for
// example from `kubectl create token`) or an API token.

import { type FormEvent, useEffect, useState } from "react";
import { Client } from "../api/client";
import type { WhoAmI } from "../api/types";
import { authConfig, type OIDCConfig, startSignIn } from "../sso";

export function Login({ reason, onSignedIn }: { reason?: string; onSignedIn: (token: string, user: WhoAmI) => Promise<void> }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | undefined>(reason);
  const [busy, setBusy] = useState(false);
  const [oidc, setOIDC] = useState<OIDCConfig | null>(null);

  useEffect(() => {
    authConfig().then(setOIDC, () => setOIDC(null));
  }, []);

  const signInWithSSO = async () => {
    if (!oidc) return;
    setBusy(true);
    try {
      await startSignIn(oidc);
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const t = token.trim();
    if (!t) {
      setError("Paste a bearer token first.");
      return;
    }
    setBusy(true);
    try {
      await onSignedIn(t, await new Client(t).whoAmI());
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="login card" onSubmit={submit} aria-label="Sign in">
      <h1>Sign in to kargo</h1>
      {oidc && (
        <p>
          <button type="button" onClick={signInWithSSO} disabled={busy}>
            Sign in with single sign-on
          </button>
        </p>
      )}
      <p>
        <code>kargo local</code> prints a link that signs you in as its administrator. Otherwise, paste a Kubernetes
        bearer token of yours, such as the output of <code>kubectl create token</code>.
      </p>
      <label>
        Bearer token
        <input type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} autoFocus />
      </label>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        Sign in
      </button>
    </form>
  );
}
