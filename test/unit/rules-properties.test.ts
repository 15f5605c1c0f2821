// Properties of the pure decision rules over generated inputs (fast-check), beside the slot
// planner's (planner-properties.test.ts): candidate ranking and the data guard (never promote
// a node holding less than another eligible one, never an empty one over data known or
// unknown, never one that missed writes the probe saw), safe mode, the migration engine's
// step decisions and the fold of completed moves. A failure prints fast-check's seed and the
// shrunk counterexample.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ClusterInfo, ReplicationInfo } from "../../lib/kvrocks/index.js";
import { decideStep, startableTasks } from "../../lib/migration/step.js";
import {
  type Cluster,
  type ClusterNode,
  clusterViolations,
  emptyProbeState,
  type ProbeState,
  Task,
} from "../../lib/model/index.js";
import {
  type CandidateReport,
  DATA_RULE,
  type DataKnowledge,
  dataKnowledgeFrom,
  pickNewMaster,
  rankCandidates,
} from "../../lib/ops/failover.js";
import { judgeMove, type NodeReport, withMovesFolded } from "../../lib/ops/fold.js";
import { type DataGuard, nextDataGuard } from "../../lib/probe/data-guard.js";
import type { Observation } from "../../lib/probe/observe.js";
import { judgeSafeMode } from "../../lib/probe/round.js";
import { countSlots, formatSlotRange, SLOT_COUNT, type SlotRange } from "../../lib/slots/index.js";

const RUNS = { numRuns: 400 };
const id = (i: number) => i.toString(16).padStart(40, "0");

// ---------------------------------------------------------------------------------------------
// candidate ranking

type Report = Omit<CandidateReport, "ineligible">;

function replicationInfo(over: Partial<ReplicationInfo>): ReplicationInfo {
  return {
    role: "slave",
    masterHost: "127.0.0.1",
    masterPort: 7000,
    masterLinkUp: true,
    syncInProgress: false,
    slaveReplOffset: 0,
    masterReplOffset: 0,
    connectedSlaves: 0,
    sequence: 0,
    ...over,
  };
}

/** Sequences from a small set, so ties and zeros are common. */
const sequence = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 6 }), fc.nat({ max: 1000 }));

const report = (i: number): fc.Arbitrary<Report> =>
  fc
    .record({
      answers: fc.nat({ max: 9 }),
      master: fc.nat({ max: 9 }),
      sync: fc.nat({ max: 9 }),
      sequence,
      offset: fc.nat({ max: 3 }),
      linkUp: fc.boolean(),
    })
    .map((r) => ({
      id: id(i),
      addr: `127.0.0.1:${7001 + i}`,
      version: 1,
      error: r.answers === 0 ? "timeout" : null,
      info:
        r.answers === 0
          ? null
          : replicationInfo({
              role: r.master === 0 ? "master" : "slave",
              syncInProgress: r.sync === 0,
              sequence: r.sequence,
              slaveReplOffset: r.offset,
              masterLinkUp: r.linkUp,
            }),
    }));

const reports = fc
  .integer({ min: 0, max: 4 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => report(i))))
  .map((rs) => rs as Report[]);

function knowledgeFor(ids: readonly string[]): fc.Arbitrary<DataKnowledge> {
  const some = fc.subarray([...ids]);
  return fc
    .record({
      masterHadData: fc.boolean(),
      masterSeen: fc.boolean(),
      linked: some,
      stale: some,
      holds: fc.array(fc.tuple(fc.constantFrom(...(ids.length ? ids : ["x"])), sequence), {
        maxLength: 4,
      }),
    })
    .map((k) => ({
      masterHadData: k.masterHadData,
      // As dataKnowledgeFrom builds it: a master recorded with data was seen.
      masterSeen: k.masterSeen || k.masterHadData,
      linked: k.linked,
      stale: Object.fromEntries(k.stale.map((s) => [s, "missed writes: its link was down"])),
      holds: Object.fromEntries(k.holds),
    }));
}

const rankingInput = reports.chain((rs) =>
  fc.record({ reports: fc.constant(rs), knowledge: knowledgeFor(rs.map((r) => r.id)) }),
);

const eligible = (ranked: readonly CandidateReport[]) =>
  ranked.filter((c) => c.ineligible === null);

describe("candidate ranking", () => {
  it("never promotes a node holding less than another eligible one", () => {
    fc.assert(
      fc.property(rankingInput, ({ reports, knowledge }) => {
        const ranked = rankCandidates(reports, knowledge);
        const chosen = pickNewMaster(ranked);
        if (eligible(ranked).length === 0) {
          expect(chosen).toBeNull();
          return;
        }
        for (const c of eligible(ranked)) {
          expect(chosen!.info!.sequence).toBeGreaterThanOrEqual(c.info!.sequence);
          if (c.info!.sequence === chosen!.info!.sequence)
            expect(chosen!.info!.slaveReplOffset).toBeGreaterThanOrEqual(c.info!.slaveReplOffset);
        }
      }),
      RUNS,
    );
  });

  it("never promotes an empty node over data known (master or a replica had it) or unknown (master never seen)", () => {
    fc.assert(
      fc.property(rankingInput, ({ reports, knowledge }) => {
        const chosen = pickNewMaster(rankCandidates(reports, knowledge));
        if (!chosen || chosen.info!.sequence > 0) return;
        expect(knowledge.masterSeen).toBe(true);
        expect(knowledge.masterHadData).toBe(false);
        const replicaWithData = reports.some(
          (r) => r.info?.role === "slave" && r.info.sequence > 0,
        );
        expect(replicaWithData).toBe(false);
      }),
      RUNS,
    );
  });

  it("promotes only answering replicas not in a full sync, that did not miss writes, holding what they must", () => {
    fc.assert(
      fc.property(rankingInput, ({ reports, knowledge }) => {
        for (const c of eligible(rankCandidates(reports, knowledge))) {
          expect(c.info?.role).toBe("slave");
          expect(c.info?.syncInProgress).toBe(false);
          expect(knowledge.stale[c.id]).toBeUndefined();
          expect(c.info!.sequence).toBeGreaterThanOrEqual(knowledge.holds?.[c.id] ?? 0);
          if (!knowledge.masterSeen) expect(knowledge.linked).toContain(c.id);
        }
      }),
      RUNS,
    );
  });

  it("force waives exactly the rules its hint names (DATA_RULE), for the named node only", () => {
    fc.assert(
      fc.property(rankingInput, ({ reports, knowledge }) => {
        const plain = rankCandidates(reports, knowledge);
        reports.forEach((r, i) => {
          const forced = rankCandidates(reports, knowledge, r.id);
          const waivable = plain[i]!.ineligible !== null && DATA_RULE.test(plain[i]!.ineligible!);
          if (plain[i]!.ineligible === null || waivable) expect(forced[i]!.ineligible).toBeNull();
          else expect(forced[i]!.ineligible).toBe(plain[i]!.ineligible);
          forced.forEach((c, j) => {
            if (j !== i) expect(c.ineligible).toBe(plain[j]!.ineligible);
          });
        });
      }),
      RUNS,
    );
  });

  it("does not depend on the order the replicas answered in", () => {
    fc.assert(
      fc.property(
        rankingInput.chain((input) =>
          fc.record({
            input: fc.constant(input),
            order: fc.shuffledSubarray(input.reports, { minLength: input.reports.length }),
          }),
        ),
        ({ input, order }) => {
          const a = rankCandidates(input.reports, input.knowledge);
          const b = rankCandidates(order, input.knowledge);
          const verdict = (rs: CandidateReport[]) =>
            Object.fromEntries(rs.map((c) => [c.id, c.ineligible]));
          expect(verdict(b)).toEqual(verdict(a));
          const key = (c: CandidateReport | null) =>
            c ? [c.info!.sequence, c.info!.slaveReplOffset] : null;
          expect(key(pickNewMaster(b))).toEqual(key(pickNewMaster(a)));
        },
      ),
      RUNS,
    );
  });

  it("more knowledge of the data never makes a node eligible", () => {
    fc.assert(
      fc.property(
        rankingInput.chain((input) =>
          fc.record({
            input: fc.constant(input),
            more: knowledgeFor(input.reports.map((r) => r.id)),
          }),
        ),
        ({ input, more }) => {
          const k = input.knowledge;
          // Everything `k` says, and possibly more: data seen, more replicas stale, higher
          // floors, fewer replicas known linked.
          const stricter: DataKnowledge = {
            masterHadData: k.masterHadData || more.masterHadData,
            masterSeen: k.masterSeen || more.masterHadData,
            linked: (k.linked ?? []).filter((l) => (more.linked ?? []).includes(l) || k.masterSeen),
            stale: { ...more.stale, ...k.stale },
            holds: Object.fromEntries(
              [...new Set([...Object.keys(k.holds ?? {}), ...Object.keys(more.holds ?? {})])].map(
                (rid) => [rid, Math.max(k.holds?.[rid] ?? 0, more.holds?.[rid] ?? 0)],
              ),
            ),
          };
          // Seeing the master at all is knowledge that allows more, by design: an empty replica
          // of a master seen empty (a new cluster), or a replica never seen linked once the
          // probe watches its link against the master's writes. Compare where it stays.
          if (stricter.masterSeen !== k.masterSeen) return;
          const before = rankCandidates(input.reports, k);
          const after = rankCandidates(input.reports, stricter);
          after.forEach((c, i) => {
            if (before[i]!.ineligible !== null) expect(c.ineligible).not.toBeNull();
          });
        },
      ),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// the data guard, round after round, then the failover it feeds

const MASTER = id(100);
const REPLICAS = [id(101), id(102)];

function node(nodeId: string, role: "master" | "slave", i: number): ClusterNode {
  return { id: nodeId, addr: `127.0.0.1:${7100 + i}`, role, password: "", created_at: 0 };
}

const shardCluster: Cluster = {
  name: "c",
  version: 1,
  shards: [
    {
      nodes: [node(MASTER, "master", 0), ...REPLICAS.map((r, i) => node(r, "slave", i + 1))],
      slot_ranges: [{ start: 0, stop: SLOT_COUNT - 1 }],
      target_shard_index: -1,
      migrating_slot: null,
    },
  ],
};

function observation(n: ClusterNode, replication: ReplicationInfo | null): Observation {
  return {
    node: n,
    alive: replication !== null,
    notInitialized: false,
    loading: false,
    version: replication ? 1 : null,
    view: null,
    replication,
    error: replication ? null : "connect ECONNREFUSED",
    unmanageable: null,
    failure: replication ? null : "refused",
  };
}

type ReplicaMove = "dead" | "unlinked" | "syncing" | "linked" | "emptied";
interface Round {
  masterAlive: boolean;
  writes: number;
  replicas: { move: ReplicaMove; catchUp: number }[];
}

const round: fc.Arbitrary<Round> = fc.record({
  masterAlive: fc.nat({ max: 4 }).map((n) => n > 0),
  writes: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50 })),
  replicas: fc.tuple(
    ...REPLICAS.map(() =>
      fc.record({
        move: fc.constantFrom<ReplicaMove>(
          "linked",
          "linked",
          "linked",
          "unlinked",
          "dead",
          "syncing",
          "emptied",
        ),
        // Often all the way: a replica caught up when its link drops is the case where only
        // the master's later writes tell that it missed some.
        catchUp: fc.oneof(fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
      }),
    ),
  ),
});

interface History {
  guards: DataGuard[];
  observations: Observation[][];
  /** Per round: the master's sequence when it answered, else null. */
  masterSeq: (number | null)[];
  /** Per round and replica: linked (link up, not syncing) as the round saw it. */
  linked: boolean[][];
  finalReports: Report[];
}

/** Plays the rounds: the master writes while alive; a replica follows only while linked. */
function play(rounds: readonly Round[]): History {
  let masterSeq = 0;
  const replicaSeq = REPLICAS.map(() => 0);
  const [shard] = shardCluster.shards;
  const nodes = shard!.nodes;
  let guard: DataGuard = emptyProbeState();
  const history: History = {
    guards: [],
    observations: [],
    masterSeq: [],
    linked: [],
    finalReports: [],
  };
  for (const r of rounds) {
    if (r.masterAlive) masterSeq += r.writes;
    const obs: Observation[] = [
      observation(
        nodes[0]!,
        r.masterAlive ? replicationInfo({ role: "master", sequence: masterSeq }) : null,
      ),
    ];
    const linkedNow: boolean[] = [];
    r.replicas.forEach((rep, i) => {
      if (rep.move === "emptied") replicaSeq[i] = 0;
      if (rep.move === "linked" && r.masterAlive)
        replicaSeq[i] = Math.max(
          replicaSeq[i]!,
          Math.floor(replicaSeq[i]! + (masterSeq - replicaSeq[i]!) * rep.catchUp),
        );
      const alive = rep.move !== "dead";
      const link = rep.move === "linked";
      linkedNow.push(alive && link);
      obs.push(
        observation(
          nodes[i + 1]!,
          alive
            ? replicationInfo({
                sequence: replicaSeq[i]!,
                masterLinkUp: link,
                syncInProgress: rep.move === "syncing" || rep.move === "emptied",
              })
            : null,
        ),
      );
    });
    guard = nextDataGuard(guard, shardCluster, obs);
    history.guards.push(guard);
    history.observations.push(obs);
    history.masterSeq.push(r.masterAlive ? masterSeq : null);
    history.linked.push(linkedNow);
  }
  // The master is dead now; the replicas answer as they were last (a dead one does not).
  const last = rounds[rounds.length - 1]!;
  history.finalReports = REPLICAS.map((rid, i) => ({
    id: rid,
    addr: nodes[i + 1]!.addr,
    version: 1,
    error: last.replicas[i]!.move === "dead" ? "timeout" : null,
    info:
      last.replicas[i]!.move === "dead"
        ? null
        : replicationInfo({
            sequence: replicaSeq[i]!,
            masterLinkUp: false,
            syncInProgress:
              last.replicas[i]!.move === "syncing" || last.replicas[i]!.move === "emptied",
          }),
  }));
  return history;
}

function failoverAfter(h: History): CandidateReport | null {
  const guard = h.guards[h.guards.length - 1]!;
  const state: ProbeState = { ...emptyProbeState(), ...guard };
  return pickNewMaster(rankCandidates(h.finalReports, dataKnowledgeFrom(state, MASTER)));
}

const histories = fc.array(round, { minLength: 1, maxLength: 12 }).map(play);

describe("data guard", () => {
  it("is a fixed point: a round seeing the same as the last changes nothing (healthy rounds write nothing)", () => {
    fc.assert(
      fc.property(histories, (h) => {
        const last = h.guards.length - 1;
        const again = nextDataGuard(h.guards[last]!, shardCluster, h.observations[last]!);
        expect(again).toEqual(h.guards[last]);
      }),
      RUNS,
    );
  });

  it("remembers a master that held data, and that it was seen, for as long as it is master", () => {
    fc.assert(
      fc.property(histories, (h) => {
        h.guards.forEach((g, t) => {
          const seqs = h.masterSeq.slice(0, t + 1);
          expect(g.masters_with_data.includes(MASTER)).toBe(seqs.some((s) => (s ?? 0) > 0));
          expect(g.masters_seen.includes(MASTER)).toBe(seqs.some((s) => s !== null));
        });
      }),
      RUNS,
    );
  });

  it("never lets the failover promote an empty replica over data known or unknown", () => {
    fc.assert(
      fc.property(histories, (h) => {
        const chosen = failoverAfter(h);
        if (!chosen || chosen.info!.sequence > 0) return;
        // Empty is promotable only when every round that saw the master saw it empty.
        const seen = h.masterSeq.filter((s) => s !== null);
        expect(seen.length).toBeGreaterThan(0);
        expect(seen.every((s) => s === 0)).toBe(true);
      }),
      RUNS,
    );
  });

  it("never lets the failover promote a replica below what the master had while the probe saw it unlinked", () => {
    fc.assert(
      fc.property(histories, (h) => {
        const chosen = failoverAfter(h);
        if (!chosen) return;
        const i = REPLICAS.indexOf(chosen.id);
        // The rounds since the replica was last seen following its master (all, if never):
        // whatever the master was seen holding then, the replica must hold.
        let lastLinked = -1;
        h.linked.forEach((l, t) => {
          if (l[i]) lastLinked = t;
        });
        for (let t = lastLinked + 1; t < h.masterSeq.length; t++) {
          const s = h.masterSeq[t];
          if (s !== null && s !== undefined)
            expect(chosen.info!.sequence, `round ${t}`).toBeGreaterThanOrEqual(s);
        }
      }),
      RUNS,
    );
  });

  it("promotes, over a master no round saw, only a replica seen following it, holding data", () => {
    fc.assert(
      fc.property(histories, (h) => {
        if (h.masterSeq.some((s) => s !== null)) return;
        const chosen = failoverAfter(h);
        if (!chosen) return;
        const i = REPLICAS.indexOf(chosen.id);
        expect(chosen.info!.sequence).toBeGreaterThan(0);
        expect(h.linked.some((l) => l[i])).toBe(true);
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// safe mode

interface SafeInput {
  alive: boolean[];
  failedBefore: boolean[];
  ratio: number;
}

const safeInput: fc.Arbitrary<SafeInput> = fc.integer({ min: 1, max: 12 }).chain((n) =>
  fc.record({
    alive: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
    failedBefore: fc.array(
      fc.nat({ max: 3 }).map((x) => x === 0),
      { minLength: n, maxLength: n },
    ),
    ratio: fc.constantFrom(0.3, 0.5, 0.75),
  }),
);

const safeNodes = (n: number) =>
  Array.from({ length: n }, (_, i) => node(id(200 + i), "master", i));

function safeObservations(input: SafeInput): Observation[] {
  return safeNodes(input.alive.length).map((n, i) =>
    observation(n, input.alive[i] ? replicationInfo({ role: "master" }) : null),
  );
}

function stateBefore(input: SafeInput, safe?: { nodes: string[] }): ProbeState {
  const state = emptyProbeState();
  safeNodes(input.alive.length).forEach((n, i) => {
    state.nodes[n.id] = {
      failures: input.failedBefore[i] ? 1 : 0,
    } as ProbeState["nodes"][string];
  });
  if (safe) {
    state.safe_mode = true;
    state.safe_mode_nodes = safe.nodes;
  }
  return state;
}

describe("safe mode", () => {
  it("is on exactly when more than the ratio of the nodes counted fail, counting no node that failed the round before and fails again", () => {
    fc.assert(
      fc.property(safeInput, (input) => {
        const verdict = judgeSafeMode(safeObservations(input), stateBefore(input), input.ratio);
        const counted = input.alive.filter((a, i) => a || !input.failedBefore[i]);
        const failed = counted.filter((a) => !a).length;
        expect(verdict.reason !== null).toBe(failed > 0 && failed / counted.length > input.ratio);
      }),
      RUNS,
    );
  });

  it("holds while the same nodes keep failing (a split that lasts)", () => {
    fc.assert(
      fc.property(safeInput, (input) => {
        const first = judgeSafeMode(safeObservations(input), stateBefore(input), input.ratio);
        if (first.reason === null) return;
        // Next round sees the same: the failing nodes now failed the round before.
        const next = {
          ...input,
          failedBefore: input.failedBefore.map((f, i) => f || !input.alive[i]),
        };
        const again = judgeSafeMode(
          safeObservations(next),
          stateBefore(next, { nodes: first.nodes }),
          input.ratio,
        );
        expect(again.reason).not.toBeNull();
      }),
      RUNS,
    );
  });

  it("one more node failing never turns it off", () => {
    fc.assert(
      fc.property(safeInput, fc.nat(), (input, pick) => {
        const up = input.alive.flatMap((a, i) => (a ? [i] : []));
        if (up.length === 0) return;
        const i = up[pick % up.length]!;
        const worse = { ...input, alive: input.alive.map((a, j) => (j === i ? false : a)) };
        const before = judgeSafeMode(safeObservations(input), stateBefore(input), input.ratio);
        const after = judgeSafeMode(safeObservations(worse), stateBefore(worse), input.ratio);
        if (before.reason !== null) expect(after.reason).not.toBeNull();
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// migration steps and folds

/** Three shards (master + replica each), shard 0 owning 0-999 and the rest split. */
function migrationCluster(
  record: "none" | "ours" | "other",
  rangeWhere: "source" | "target" | "gone",
): Cluster {
  const shard = (i: number, ranges: SlotRange[]) => ({
    nodes: [node(id(300 + 2 * i), "master", 2 * i), node(id(301 + 2 * i), "slave", 2 * i + 1)],
    slot_ranges: ranges,
    target_shard_index: -1,
    migrating_slot: null as SlotRange | null,
  });
  const moving = { start: 100, stop: 199 };
  const shards = [
    shard(0, [
      { start: 0, stop: 99 },
      { start: 200, stop: 999 },
    ]),
    shard(1, [{ start: 1000, stop: 8999 }]),
    shard(2, [{ start: 9000, stop: SLOT_COUNT - 1 }]),
  ];
  if (rangeWhere === "source") shards[0]!.slot_ranges = [{ start: 0, stop: 999 }];
  if (rangeWhere === "target") shards[1]!.slot_ranges = [moving, { start: 1000, stop: 8999 }];
  if (rangeWhere === "gone")
    shards[2]!.slot_ranges = [moving, { start: 9000, stop: SLOT_COUNT - 1 }];
  if (record === "ours") {
    shards[0]!.migrating_slot = moving;
    shards[0]!.target_shard_index = 1;
  }
  if (record === "other") {
    shards[0]!.migrating_slot = { start: 0, stop: 9 };
    shards[0]!.target_shard_index = 2;
  }
  return { name: "c", version: 5, shards };
}

const MOVING = "100-199";
const TARGET_MASTER = id(302);

const clusterInfo = (over: Partial<ClusterInfo>): ClusterInfo => ({
  state: "ok",
  slotsAssigned: SLOT_COUNT,
  knownNodes: 6,
  currentEpoch: 5,
  myEpoch: 5,
  migrating: null,
  importing: null,
  ...over,
});

const nodeReport: fc.Arbitrary<NodeReport> = fc.oneof(
  fc.constant<NodeReport>({ error: "timeout" }),
  fc
    .record({
      lines: fc.constantFrom("none", "ours", "other"),
      state: fc.constantFrom("start", "success", "fail"),
      destination: fc.constantFrom(TARGET_MASTER, id(303), id(999)),
      importing: fc.constantFrom("none", "start", "success", "error"),
      epoch: fc.integer({ min: 3, max: 6 }),
    })
    .map(
      (r): NodeReport => ({
        info: clusterInfo({
          currentEpoch: r.epoch,
          migrating:
            r.lines === "none"
              ? null
              : {
                  ranges: [r.lines === "ours" ? { start: 100, stop: 199 } : { start: 0, stop: 9 }],
                  destination: r.destination,
                  state: r.state as "start" | "success" | "fail",
                },
          importing:
            r.importing === "none"
              ? null
              : {
                  ranges: [{ start: 100, stop: 199 }],
                  state: r.importing as "start" | "success" | "error",
                },
        }),
      }),
    ),
);

const stepInput = fc.record({
  record: fc.constantFrom<"none" | "ours" | "other">("none", "ours", "ours", "other"),
  rangeWhere: fc.constantFrom<"source" | "target" | "gone">(
    "source",
    "source",
    "source",
    "target",
    "gone",
  ),
  sent: fc.boolean(),
  clean: fc.boolean(),
  bound: fc.constantFrom<"none" | "source" | "other">("none", "source", "other"),
  targetBound: fc.boolean(),
  source: nodeReport,
  target: fc.option(nodeReport, { nil: undefined }),
  startedAgo: fc.nat({ max: 20_000 }),
});

function stepTask(i: StepGen): Task {
  return Task.parse({
    id: "t1",
    state: "running",
    source: 0,
    target: 1,
    ranges: [MOVING],
    slots_total: 100,
    created_at: 0,
    in_flight: MOVING,
    in_flight_started_at: 1_000_000,
    in_flight_sent: i.sent,
    in_flight_clean: i.clean,
    in_flight_source: i.bound === "none" ? null : i.bound === "source" ? id(300) : id(301),
    in_flight_target: i.bound === "none" ? null : i.targetBound ? TARGET_MASTER : null,
  });
}
type StepGen = {
  record: "none" | "ours" | "other";
  rangeWhere: "source" | "target" | "gone";
  sent: boolean;
  clean: boolean;
  bound: "none" | "source" | "other";
  targetBound: boolean;
  source: NodeReport;
  target: NodeReport | undefined;
  startedAgo: number;
};

const TIMEOUT = 10_000;
function decide(g: StepGen, startedAgo = g.startedAgo) {
  return decideStep({
    task: stepTask(g),
    cluster: migrationCluster(g.record, g.rangeWhere),
    report: g.source,
    target: g.target,
    now: 1_000_000 + startedAgo,
    timeoutMs: TIMEOUT,
  });
}

describe("migration step decisions", () => {
  it("time never fails a range: the decision is the same at any age, only marked slow past the timeout", () => {
    fc.assert(
      fc.property(stepInput, fc.nat({ max: 100_000 }), (g, other) => {
        const a = decide(g as StepGen);
        const b = decide(g as StepGen, other);
        expect(b.kind).toBe(a.kind);
        if (a.kind === "fail" && b.kind === "fail") expect(b.why).toBe(a.why);
        if (b.kind === "wait") expect(b.slow === true).toBe(other > TIMEOUT);
      }),
      RUNS,
    );
  });

  it("completes only on the nodes' word for this attempt: the source's success to the target, or the bound target's import success after MIGRATE was acknowledged", () => {
    fc.assert(
      fc.property(stepInput, (raw) => {
        const g = raw as StepGen;
        if (decide(g).kind !== "complete") return;
        const info = g.source.info;
        const sourceSays =
          g.bound !== "other" &&
          info?.migrating?.ranges.length === 1 &&
          formatSlotRange(info.migrating.ranges[0]!) === MOVING &&
          info.migrating.state === "success" &&
          [id(302), id(303)].includes(info.migrating.destination) &&
          (g.sent || g.clean);
        const targetSays =
          g.sent &&
          (g.bound === "none" || g.targetBound) &&
          g.target?.info?.importing?.state === "success";
        expect(sourceSays || targetSays).toBe(true);
      }),
      RUNS,
    );
  });

  it("a range already on the target is recorded done, whatever the nodes say", () => {
    fc.assert(
      fc.property(stepInput, (raw) => {
        const g = { ...(raw as StepGen), rangeWhere: "target" as const };
        expect(decide(g).kind).toBe("record_done");
      }),
      RUNS,
    );
  });
});

const taskArb = fc.record({
  n: fc.nat({ max: 99 }),
  kind: fc.constantFrom<"migrate" | "remove_shards">(
    "migrate",
    "migrate",
    "migrate",
    "remove_shards",
  ),
  state: fc.constantFrom<"queued" | "running" | "succeeded" | "failed">(
    "queued",
    "queued",
    "running",
    "succeeded",
    "failed",
  ),
  source: fc.nat({ max: 4 }),
  target: fc.nat({ max: 4 }),
  lingering: fc.boolean(),
});

describe("which queued tasks may start", () => {
  it("one task per shard at a time, oldest first, and a shard removal alone", () => {
    fc.assert(
      fc.property(fc.uniqueArray(taskArb, { selector: (t) => t.n, maxLength: 8 }), (specs) => {
        const tasks = specs.map((s) =>
          Task.parse({
            id: `t${String(s.n).padStart(2, "0")}`,
            kind: s.kind,
            state: s.state,
            source: s.source,
            target: s.target,
            ranges: ["1"],
            slots_total: 1,
            created_at: 0,
            in_flight: s.state !== "queued" && s.lingering ? "1" : null,
          }),
        );
        const started = startableTasks(tasks);
        const older = (a: Task, b: Task) => a.id < b.id;
        const shards = (t: Task) => [t.source, t.target];
        const active = tasks.filter(
          (t) => t.state === "running" || (t.state !== "queued" && t.in_flight !== null),
        );
        for (const t of started) {
          expect(t.state).toBe("queued");
          // Nothing active or started shares its shards.
          for (const o of [...active, ...started])
            if (o !== t)
              expect(
                shards(o).some((s) => shards(t).includes(s)),
                `${t.id} ${o.id}`,
              ).toBe(false);
          // No older queued task holding one of its shards was passed over.
          for (const q of tasks)
            if (q.state === "queued" && older(q, t) && !started.includes(q))
              expect(shards(q).some((s) => shards(t).includes(s))).toBe(false);
          if (t.kind === "remove_shards") {
            expect(started).toEqual([t]);
            expect(tasks.some((o) => o.state === "running")).toBe(false);
          }
        }
        // Nothing starts after a shard removal, queued or running, that is older.
        for (const t of started)
          for (const r of tasks)
            if (
              r.kind === "remove_shards" &&
              (r.state === "queued" || r.state === "running") &&
              older(r, t)
            )
              expect(started.includes(r) || r.state === "running").toBe(false);
      }),
      RUNS,
    );
  });
});

describe("folding completed moves", () => {
  it("the judge never takes a success from before this attempt", () => {
    fc.assert(
      fc.property(stepInput, (raw) => {
        const g = raw as StepGen;
        const verdict = judgeMove({
          move: { source: 0, target: 1, range: { start: 100, stop: 199 } },
          targetNodeIds: [id(302), id(303)],
          source: g.source,
          target: g.target,
          sent: g.sent,
          clean: g.clean,
          sourceBound: g.bound !== "other",
          targetBound: g.targetBound,
        });
        if (!verdict.done) return;
        if (verdict.by === "source") expect(g.sent || g.clean).toBe(true);
        else {
          expect(g.sent).toBe(true);
          expect(g.targetBound).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it("a folded cluster keeps every slot owned once, the moved ranges on their targets, records cleared", () => {
    fc.assert(
      fc.property(
        fc.subarray([
          { source: 0, target: 1, range: { start: 100, stop: 199 } },
          { source: 2, target: 0, range: { start: 9000, stop: 9099 } },
          { source: 1, target: 2, range: { start: 1000, stop: 1000 } },
        ]),
        (moves) => {
          const cluster = migrationCluster("none", "source");
          for (const m of moves) {
            cluster.shards[m.source]!.migrating_slot = m.range;
            cluster.shards[m.source]!.target_shard_index = m.target;
          }
          expect(clusterViolations(cluster)).toEqual([]);
          const folded = withMovesFolded(cluster, moves);
          expect(clusterViolations(folded)).toEqual([]);
          expect(folded.version).toBe(cluster.version + moves.length);
          const total = folded.shards.reduce((n, s) => n + countSlots(s.slot_ranges), 0);
          expect(total).toBe(SLOT_COUNT);
          for (const m of moves) {
            const owner = folded.shards.findIndex((s) =>
              s.slot_ranges.some((r) => r.start <= m.range.start && m.range.stop <= r.stop),
            );
            expect(owner).toBe(m.target);
            expect(folded.shards[m.source]!.migrating_slot).toBeNull();
            expect(folded.shards[m.source]!.target_shard_index).toBe(-1);
          }
        },
      ),
      RUNS,
    );
  });
});
