// What the signed-in user may do with Freight: promote it to a Stage,
// approve it for one, rename it. The API server answers (GET
// /api/v1/projects/{project}/access) with SelfSubjectAccessReviews made as
// the user, and with the refusal each action would give, which the UI
// shows on hover over what it disables. The answer is held by the project's
// page of one user and asked again when the Stages change or the page comes
// back into view; nothing one user was told is kept for another. The
// actions are checked again by the server when asked, so an answer not in
// yet, or a Stage added since, allows.

import { useEffect, useState } from "react";
import type { Client } from "../api/client";
import type { Access, Permission } from "../api/types";

export interface Rights {
  promote(stage: string): Permission;
  approve(stage: string): Permission;
  rename: Permission;
}

const allowed: Permission = { allowed: true };

// everything allows every action: what the UI assumes until the server
// answers.
export const everything: Rights = { promote: () => allowed, approve: () => allowed, rename: allowed };

export function rightsFrom(access: Access | null): Rights {
  if (!access) return everything;
  return {
    promote: (stage) => access.stages[stage]?.promote ?? allowed,
    approve: (stage) => access.stages[stage]?.approve ?? allowed,
    rename: access.rename,
  };
}

// useRights asks what the user of client may do in project with the
// Stages named, once enabled (the Stages are known), again when the names
// change, and again whenever the page becomes visible (rights granted or
// revoked meanwhile show when the user comes back).
export function useRights(client: Client, project: string, stages: string[], enabled: boolean): Rights {
  const [access, setAccess] = useState<Access | null>(null);
  const key = [...stages].sort().join("\n");
  useEffect(() => {
    if (!enabled) return;
    const names = key === "" ? [] : key.split("\n");
    const abort = new AbortController();
    const ask = () =>
      client.access(project, names, abort.signal).then(setAccess, () => {
        // Unanswered: the actions stay offered and the server decides.
      });
    void ask();
    const onVisible = () => {
      if (document.visibilityState === "visible") void ask();
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      abort.abort();
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [client, project, key, enabled]);
  return rightsFrom(access);
}

// refusal is why none of stages may be chosen for an action, or undefined
// when one may (or there is none to choose: the dialog explains that).
export function refusal(stages: string[], may: (stage: string) => Permission): string | undefined {
  if (stages.length === 0) return undefined;
  const answers = stages.map(may);
  if (answers.some((a) => a.allowed)) return undefined;
  return answers[0].reason ?? "you may not";
}
