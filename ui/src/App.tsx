// App signs the user in and shows the page the address names.

import { useCallback, useEffect, useState } from "react";
import { Client } from "./api/client";
import type { WhoAmI } from "./api/types";
import { forgetToken, saveToken, savedToken, takeTokenFromLocation } from "./auth";
import { NoticeList, NoticeProvider } from "./common/notices";
import { Login } from "./login/Login";
import { ProjectView } from "./project/ProjectView";
import { ProjectList } from "./projects/ProjectList";
import { navigate, useRoute } from "./router";
import { callbackPath, finishSignIn } from "./sso";

export interface Session {
  client: Client;
  user: WhoAmI;
}

type State = { status: "checking" } | { status: "signedOut"; reason?: string } | { status: "signedIn"; session: Session };

export function App() {
  const route = useRoute();
  const [state, setState] = useState<State>({ status: "checking" });

  const signOut = useCallback((reason?: string) => {
    forgetToken();
    setState({ status: "signedOut", reason });
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
          const user = await client.whoAmI();
          saveToken(token);
          setState({ status: "signedIn", session: { client, user } });
          navigate({ page: "projects" });
        })
        .catch((e: Error) => setState({ status: "signedOut", reason: e.message }));
      return;
    }
    takeTokenFromLocation();
    const token = savedToken();
    if (!token) {
      setState({ status: "signedOut" });
      return;
    }
    const client = new Client(token);
    client.whoAmI().then(
      (user) => setState({ status: "signedIn", session: { client, user } }),
      (e) => {
        if (e.unauthorized) signOut(e.message);
        else setState({ status: "signedOut", reason: e.message });
      },
    );
  }, [signOut]);

  const signIn = useCallback((token: string, user: WhoAmI) => {
    saveToken(token);
    setState({ status: "signedIn", session: { client: new Client(token), user } });
    if (window.location.pathname === "/login") navigate({ page: "projects" });
  }, []);

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
            key={route.project}
            session={state.session}
            project={route.project}
            onUnauthorized={() => signOut("your session ended: sign in again")}
          />
        ) : (
          <ProjectList session={state.session} />
        )}
      </main>
    </NoticeProvider>
  );
}
