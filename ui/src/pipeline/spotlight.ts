// The spotlight is the Freight the user points at in the timeline (by
// hovering over its row or moving the keyboard focus into it): the
// pipeline highlights the Stages where it is current, verified and
// approved, and dims the rest. It is kept outside React's tree of state
// so that moving the pointer down the timeline redraws the pipeline only,
// not the project view with its thousands of Freight.

import { useSyncExternalStore } from "react";
import type { Freight, Stage } from "../api/types";

type Listener = () => void;

export class Spotlight {
  private name: string | null = null;
  private readonly listeners = new Set<Listener>();

  subscribe = (l: Listener): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };

  get = (): string | null => this.name;

  // show puts the named Freight in the spotlight.
  show(name: string): void {
    if (this.name === name) return;
    this.name = name;
    this.listeners.forEach((l) => l());
  }

  // hide ends the spotlight on name, if it is still the one shown (a row
  // left after another was entered changes nothing).
  hide(name?: string): void {
    if (this.name === null || (name !== undefined && this.name !== name)) return;
    this.name = null;
    this.listeners.forEach((l) => l());
  }
}

// spotlight is the page's one spotlight: one project is shown at a time.
export const spotlight = new Spotlight();

export function useSpotlight(s: Spotlight = spotlight): string | null {
  return useSyncExternalStore(s.subscribe, s.get, s.get);
}

// Role is what a Freight is in a Stage.
export type Role = "current" | "verified" | "approved";

// rolesIn returns, for each Stage, what the Freight is there, in the order
// current, verified, approved; Stages it is none of are left out.
export function rolesIn(f: Freight, stages: Stage[]): Map<string, Role[]> {
  const m = new Map<string, Role[]>();
  for (const s of stages) {
    const name = s.metadata.name;
    const roles: Role[] = [];
    if (s.status?.currentFreight?.id === f.metadata.name) roles.push("current");
    if (f.status?.verifiedIn?.[name]) roles.push("verified");
    if (f.status?.approvedFor?.[name]) roles.push("approved");
    if (roles.length > 0) m.set(name, roles);
  }
  return m;
}

// describeSpot is what a Stage card tells assistive technology while a
// Freight is in the spotlight.
export function describeSpot(alias: string, roles: readonly Role[]): string {
  if (roles.length === 0) return `Freight ${alias} is not in this Stage.`;
  const words = [...roles];
  const list = words.length === 1 ? words[0] : `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
  return `Freight ${alias} is ${list} here.`;
}

// summary says where the Freight is, for the pipeline's status line.
export function summary(alias: string, roles: Map<string, Role[]>): string {
  let current = 0;
  let verified = 0;
  let approved = 0;
  for (const rs of roles.values()) {
    if (rs.includes("current")) current++;
    if (rs.includes("verified")) verified++;
    if (rs.includes("approved")) approved++;
  }
  const n = (k: number) => `${k} Stage${k === 1 ? "" : "s"}`;
  if (roles.size === 0) return `${alias} is in no Stage`;
  return `${alias}: current in ${n(current)}, verified in ${n(verified)}, approved for ${n(approved)}`;
}
