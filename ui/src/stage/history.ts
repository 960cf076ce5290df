// A Stage's promotion history, from the project's Promotions: newest
// first, each with who made it, when, which Freight, how long it ran, how
// it ended and the commits it reports (its git-push steps' outputs).

import type { Promotion } from "../api/types";

export interface CommitRef {
  commit: string;
  url?: string;
  branch?: string;
}

export const createdBy = "kargo.akuity.io/create-actor";

export function stagePromotions(promotions: Map<string, Promotion>, stage: string): Promotion[] {
  const out: Promotion[] = [];
  for (const p of promotions.values()) if (p.spec.stage === stage) out.push(p);
  return out.sort((a, b) => {
    const ta = a.metadata.creationTimestamp ?? "";
    const tb = b.metadata.creationTimestamp ?? "";
    if (ta !== tb) return ta < tb ? 1 : -1;
    return b.metadata.name.localeCompare(a.metadata.name);
  });
}

// commitsOf are the commits a Promotion's steps report: every output that
// names a commit (git-push: commit, branch, commitURL).
export function commitsOf(p: Promotion): CommitRef[] {
  const state = (p.status?.state ?? {}) as Record<string, unknown>;
  const refs: CommitRef[] = [];
  for (const out of Object.values(state)) {
    if (!out || typeof out !== "object") continue;
    const o = out as Record<string, unknown>;
    if (typeof o.commit === "string" && typeof o.branch === "string") {
      refs.push({ commit: o.commit, branch: o.branch, url: typeof o.commitURL === "string" ? o.commitURL : undefined });
    }
  }
  // promotionMechanisms say what they committed in the message.
  const m = /committed ([0-9a-f]{7,40}) to (\S+) (\S+)/.exec(p.status?.message ?? "");
  if (m && refs.length === 0) refs.push({ commit: m[1], branch: m[3] });
  return refs;
}
