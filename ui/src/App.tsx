// App signs the user in and shows the page the address names.

import { useCallback, useEffect, useState } from "react";
import { Client } from "./api/client";
import type { WhoAmI } from "./api/types";
import { forgetToken, saveToken, savedToken } from "./auth";
import { NoticeList, NoticeProvider } from "./common/notices";
import { AuditView } from "./audit/AuditView";
import { Login } from "./login/Login";
import { ProjectView } from "./project/ProjectView";
import { ProjectList } from "./projects/ProjectList";
import { navigate, parseRoute, useRoute } from "./router";
import type { Session } from "./session";
import { callbackPath, finishSignIn } from "./sso";

type State = { status: "checking" } | { status: "signedOut"; reason?: string } | { status: "signedIn"; session: Session };

// initialState is signed out when there is nothing to sign in with: no
// saved token (main.tsx saved the sign-in link's) and no answer of the
// OpenID provider to redeem.
function initialState(): State {
  if (window.location.pathname === callbackPath || savedToken()) return { status: "checking" };
  return { status: "signedOut" };
}

// openSoleProject shows, to a user who arrives at the project list and can
// see exactly one project, that project instead: the sign-in link of
// kargo local --demo leads straight to kargo-demo. The list stays one
// click away (the kargo link). When the projects cannot be read, the list
// says why.
async function openSoleProject(client: Client): Promise<void> {
  if (parseRoute(window.location.pathname).page !== "projects") return;
  const projects = await client.projects().catch(() => null);
  if (projects?.length !== 1 || parseRoute(window.location.pathname).page !== "projects") return;
  navigate({ page: "project", project: projects[0].metadata.name }, { replace: true });
}

export function App() {
  const route = useRoute();
  const [state, setState] = useState<State>(initialState);

  const signOut = useCallback((reason?: string) => {
    forgetToken();
    setState({ status: "signedOut", reason });
  }, []);

  // enter starts the session of a user the server accepted.
  const enter = useCallback(async (token: string, client: Client, user: WhoAmI) => {
    saveToken(token);
    if (window.location.pathname === "/login") navigate({ page: "projects" }, { replace: true });
    await openSoleProject(client);
    setState({ status: "signedIn", session: { client, user } });
  }, []);

  useEffect(() => {
    if (window.location.pathname === callbackPath) {
      // Back from the OpenID provider: redeem its code, then sign in
      // with the ID token as with a pasted one.
      const search = window.location.search;
      window.history.replaceState(null, "", "/");
      finishSignIn(search)
        .then(async (token) => {
          const client = new Client(token);
          await enter(token, client, await client.whoAmI());
        })
        .catch((e: Error) => setState({ status: "signedOut", reason: e.message }));
      return;
    }
    const token = savedToken();
    if (!token) return;
    const client = new Client(token);
    client.whoAmI().then(
      (user) => enter(token, client, user),
      (e) => {
        if (e.unauthorized) signOut(e.message);
        else setState({ status: "signedOut", reason: e.message });
      },
    );
  }, [enter, signOut]);

  const signIn = useCallback((token: string, user: WhoAmI) => enter(token, new Client(token), user), [enter]);

  if (state.status === "checking") return <div className="loading">Signing in…</div>;

  return (
    <NoticeProvider>
      <header className="topbar">
        <a
          className="brand"
          href="/"
          onClick={(e) => {
            e.preventDefault();
            navigate({ page: "projects" });
          }}
        >
          kargo
        </a>
        {state.status === "signedIn" && (
          <div className="user">
            <span aria-label="Signed in as">{state.session.user.username}</span>
            <button type="button" className="link" onClick={() => signOut()}>
              Sign out
            </button>
          </div>
        )}
      </header>
      <NoticeList />
      <main>
        {state.status === "signedOut" || route.page === "login" ? (
          state.status === "signedIn" ? (
            <ProjectList session={state.session} />
          ) : (
            <Login reason={state.reason} onSignedIn={signIn} />
          )
        ) : route.page === "project" ? (
          <ProjectView
            // A new user or project starts afresh: nothing one user was
            // told (what they may do) is shown to the next.
            key={`${state.session.user.username}\u0000${route.project}`}
            session={state.session}
            project={route.project}
            kind={route.kind}
            name={route.name}
            onUnauthorized={() => signOut("Your sign-in ended (the token expired or was revoked). Sign in again.")}
          />
        ) : route.page === "audit" ? (
          <AuditView
            key={`${state.session.user.username}\u0000${route.project}`}
            session={state.session}
            project={route.project}
            stage={route.stage}
            onUnauthorized={() => signOut("Your sign-in ended (the token expired or was revoked). Sign in again.")}
          />
        ) : (
          <ProjectList session={state.session} />
        )}
      </main>
    </NoticeProvider>
  );
}
