// Where each Freight is: the Stages it is current in, verified in,
// approved for, and available to, each list in the order of the Stages
// given (the pipeline's order, upstream first; Stages that are gone last).
// The timeline shows the first three; the promote action offers only the
// last.
//
// Availability follows the rules of internal/availability (the server
// checks them again on every promotion): Freight is available to a Stage
// it is approved for; to a Stage subscribed to the Warehouse it came from
// (or, for a Stage with its own repository subscriptions, to that Stage);
// and to a Stage downstream of one it was verified in, once it has soaked
// there for the subscription's requiredSoakTime. The rules are applied
// here rather than read from a Stage's status.availableFreight, which
// lists only the newest hundred: rolling back to an older Freight must be
// offered too.

import type { Freight, Stage } from "../api/types";
import { compareNames } from "../pipeline/layout";

export interface Placement {
  current: string[];
  verified: string[];
  approved: string[];
  availableTo: string[];
}

export class Placements {
  private readonly current = new Map<string, string[]>();
  private readonly rank: Map<string, number>;

  constructor(
    private readonly stages: Stage[],
    private readonly now: number,
  ) {
    this.rank = new Map(stages.map((s, i) => [s.metadata.name, i]));
    for (const s of stages) {
      const cur = s.status?.currentFreight?.id;
      if (!cur) continue;
      const list = this.current.get(cur);
      if (list) list.push(s.metadata.name);
      else this.current.set(cur, [s.metadata.name]);
    }
  }

  of(f: Freight): Placement {
    return {
      current: this.current.get(f.metadata.name) ?? [],
      verified: this.inOrder(Object.keys(f.status?.verifiedIn ?? {})),
      approved: this.inOrder(Object.keys(f.status?.approvedFor ?? {})),
      availableTo: this.stages.filter((s) => available(s, f, this.now)).map((s) => s.metadata.name),
    };
  }

  private inOrder(names: string[]): string[] {
    const r = (n: string) => this.rank.get(n) ?? Infinity;
    return names.sort((a, b) => r(a) - r(b) || compareNames(a, b));
  }
}

export function available(s: Stage, f: Freight, now: number): boolean {
  const name = s.metadata.name;
  if (f.status?.approvedFor?.[name]) return true;
  const subs = s.spec?.subscriptions;
  if (!subs) return false;
  if (subs.warehouse) return f.origin?.kind === "Warehouse" && f.origin.name === subs.warehouse;
  if (subs.repos) return f.origin?.kind === "Stage" && f.origin.name === name;
  for (const u of subs.upstreamStages ?? []) {
    const v = f.status?.verifiedIn?.[u.name];
    if (!v) continue;
    const soak = u.requiredSoakTime ? parseDuration(u.requiredSoakTime) : 0;
    if (soak <= 0) return true;
    // Verified at an unknown time: the soak cannot have started.
    if (v.verifiedAt && Date.parse(v.verifiedAt) + soak <= now) return true;
  }
  return false;
}

const units: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };

// parseDuration reads a Go duration ("1h30m", "90s", "500ms") as
// milliseconds; NaN when it is not one.
export function parseDuration(d: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let m: RegExpExecArray | null;
  let at = 0;
  if (d === "0") return 0;
  while ((m = re.exec(d))) {
    total += Number(m[1]) * units[m[2]];
    at = re.lastIndex;
  }
  return at === d.length && at > 0 ? total : NaN;
}
