// The campaign's plan, drawn from the seed alone before anything starts: when each fault and
// each operation happens, of which kind, on which role of which shard, for how long. The same
// seed gives the same plan whatever the machine does; only the node a role names ("the master
// of shard 1") is resolved when the step runs, from what etcd says then.
import { seededRandom } from "../reliability/support.js";

export const FAULT_KINDS = [
  "kill", // kill -9, restarted after a few seconds with its data
  "restart", // kill -9 and started again at once (a restart in place)
  "restart-empty", // kill -9, data dir gone, started again (a replaced machine)
  "stall", // SIGSTOP for 800 ms (below down-after), then SIGCONT
  "stop", // SIGSTOP for seconds (beyond down-after), then SIGCONT
  "probe-kill", // kill -9 of a running probe invocation
  "etcd-kill", // kill -9 of an etcd member (the leader half the time), restarted later
  "api-kill", // kill -9 of an API instance, restarted later
  "partition", // the proxy between observer-b and one node cut, healed later (quorum 2 only)
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const OP_KINDS = [
  "migrate", // a data migration of a few slots between two shards
  "scale-out", // a fourth shard from the spares
  "scale-in", // the fourth shard removed
  "switchover", // a planned failover of a live master
  "failover", // a manual failover to a named replica
  "node-add", // a spare added as a replica
  "node-remove", // an added replica removed
  "other-cluster", // the other namespace's cluster deleted, or created again
  "conflict", // two API instances asked for mutations that exclude each other, at once
] as const;
export type OpKind = (typeof OP_KINDS)[number];

export interface Step<K> {
  /** ms after the campaign's start. */
  at: number;
  kind: K;
  /** Which shard (index modulo the shards there are) and which role a node fault hits. */
  shard: number;
  role: "master" | "replica";
  /** How long the fault lasts (down time, stop time), ms. */
  durationMs: number;
  /** A free number for the step's other choices (which probe, which member, which range). */
  pick: number;
}

export interface Plan {
  seed: number;
  faults: Step<FaultKind>[];
  ops: Step<OpKind>[];
}

const NODE_FAULT_WEIGHTS: [FaultKind, number][] = [
  ["kill", 4],
  ["restart", 2],
  ["restart-empty", 2],
  ["stall", 3],
  ["stop", 2],
  ["probe-kill", 2],
  ["etcd-kill", 2],
  ["api-kill", 1],
  ["partition", 2],
];

const OP_WEIGHTS: [OpKind, number][] = [
  ["migrate", 3],
  ["scale-out", 1],
  ["scale-in", 1],
  ["switchover", 2],
  ["failover", 2],
  ["node-add", 2],
  ["node-remove", 1],
  ["other-cluster", 1],
  ["conflict", 2],
];

function weighted<K>(rand: () => number, table: [K, number][]): K {
  const total = table.reduce((s, [, w]) => s + w, 0);
  let x = rand() * total;
  for (const [k, w] of table) {
    x -= w;
    if (x < 0) return k;
  }
  return table[table.length - 1]![0];
}

function durationOf(kind: FaultKind, rand: () => number): number {
  const between = (lo: number, hi: number) => Math.round(lo + rand() * (hi - lo));
  switch (kind) {
    case "stall":
      return 800;
    case "stop":
      return between(2000, 4000);
    case "kill":
      return between(1000, 5000);
    case "restart":
      return 0;
    case "restart-empty":
      return between(0, 2000);
    case "etcd-kill":
      return between(2000, 6000);
    case "api-kill":
      return between(2000, 5000);
    case "partition":
      return between(3000, 8000);
    case "probe-kill":
      return 0;
  }
}

/**
 * The plan for `durationMs` of faults and operations. Faults come every 3–7 s, operations
 * every 2–6 s, both from their own stream of the seed so that changing one table does not
 * move the other's steps. With quorum 1 no partition is planned: a partition under quorum 1
 * fails a live master over by design (docs/safety.md, P2 exceptions).
 */
export function makePlan(seed: number, durationMs: number, quorum: number): Plan {
  const faultRand = seededRandom(seed);
  const opRand = seededRandom((seed ^ 0x5bd1e995) >>> 0);
  const faults: Step<FaultKind>[] = [];
  const weights = NODE_FAULT_WEIGHTS.filter(([k]) => quorum >= 2 || k !== "partition");
  for (let at = 3000 + faultRand.int(0, 3000); at < durationMs; at += faultRand.int(3000, 7000)) {
    const kind = weighted(faultRand, weights);
    faults.push({
      at,
      kind,
      shard: faultRand.int(0, 3),
      role: faultRand() < 0.6 ? "master" : "replica",
      durationMs: durationOf(kind, faultRand),
      pick: faultRand.int(0, 1 << 30),
    });
  }
  const ops: Step<OpKind>[] = [];
  for (let at = 4000 + opRand.int(0, 2000); at < durationMs; at += opRand.int(2000, 6000)) {
    ops.push({
      at,
      kind: weighted(opRand, OP_WEIGHTS),
      shard: opRand.int(0, 3),
      role: "master",
      durationMs: 0,
      pick: opRand.int(0, 1 << 30),
    });
  }
  return { seed, faults, ops };
}
