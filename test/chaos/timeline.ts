// What happened when: every fault, operation, failover seen in etcd and violation, in order,
// so a violation can be printed with what surrounded it.

export interface TimelineEvent {
  /** ms since the campaign started. */
  t: number;
  kind: string;
  what: string;
}

export interface Violation {
  t: number;
  invariant: number;
  what: string;
}

export const INVARIANTS: Record<number, string> = {
  1: "every acknowledged write reads back",
  2: "one owner per slot (etcd always; every live node agrees after the faults)",
  3: "no false failover",
  4: "no split brain",
  5: "nothing stuck",
  6: "the API answers no 5xx while etcd has a quorum, and every 2xx mutation is in etcd",
};

export class Timeline {
  readonly start = Date.now();
  readonly events: TimelineEvent[] = [];
  readonly violations: Violation[] = [];

  constructor(private readonly echo: (line: string) => void) {}

  now(): number {
    return Date.now() - this.start;
  }

  add(kind: string, what: string, at = this.now()): void {
    const event = { t: at, kind, what };
    this.events.push(event);
    this.echo(format(event));
  }

  violate(invariant: number, what: string, at = this.now()): void {
    this.violations.push({ t: at, invariant, what });
    this.add("VIOLATION", `invariant ${invariant} (${INVARIANTS[invariant]}): ${what}`, at);
  }

  /** The events within `ms` of `t`, as lines. */
  around(t: number, ms = 15_000): string[] {
    return this.events
      .filter((e) => e.t >= t - ms && e.t <= t + ms / 3 && e.kind !== "VIOLATION")
      .sort((a, b) => a.t - b.t)
      .map(format);
  }
}

function format(e: TimelineEvent): string {
  return `${(e.t / 1000).toFixed(3).padStart(9)}s  ${e.kind.padEnd(14)} ${e.what}`;
}
