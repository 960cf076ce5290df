// Where each Freight is: the Stages it is current in, verified in,
// approved for, and available to. The timeline shows the first three; the
// promote action offers only the last.

import type { Freight, Stage } from "../api/types";

export interface Placement {
  current: string[];
  verified: string[];
  approved: string[];
  // availableTo are the Stages the Freight may be promoted into: those
  // that list it as available, and those it was approved for.
  availableTo: string[];
}

const none: Placement = { current: [], verified: [], approved: [], availableTo: [] };

export class Placements {
  private readonly current = new Map<string, string[]>();
  private readonly available = new Map<string, Set<string>>();

  constructor(stages: Stage[]) {
    for (const s of stages) {
      const name = s.metadata.name;
      const cur = s.status?.currentFreight?.id;
      if (cur) push(this.current, cur, name);
      for (const f of s.status?.availableFreight ?? []) {
        let set = this.available.get(f.id);
        if (!set) this.available.set(f.id, (set = new Set()));
        set.add(name);
      }
    }
  }

  of(f: Freight): Placement {
    const name = f.metadata.name;
    const verified = Object.keys(f.status?.verifiedIn ?? {}).sort();
    const approved = Object.keys(f.status?.approvedFor ?? {}).sort();
    const current = this.current.get(name) ?? [];
    const avail = new Set(this.available.get(name));
    for (const a of approved) avail.add(a);
    if (current.length + verified.length + approved.length + avail.size === 0) return none;
    return { current, verified, approved, availableTo: [...avail].sort() };
  }
}

function push(m: Map<string, string[]>, k: string, v: string): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}
