// One probe round over one cluster, as docs/architecture.md describes: observe, count, fold completed
// migrations, fail over, repair, advance migrations, and write the probe state only when it
// changed. Every write carries the round's lock fence, so a run that lost its lock can change
// nothing in etcd, and the lock's signal stops every node side effect once it is lost.

import { hostname } from "node:os";
import { setTimeout as delay } from "node:timers/promises";
import { conflict, errorMessage, invalid, isKvcError, notFound } from "../errors.js";
import { advanceMigrations, type MigrationEvent } from "../migration/index.js";
import {
  assertClusterValid,
  type Cluster,
  type ClusterNode,
  emptyProbeState,
  isActive,
  isDrained,
  masterOf,
  ProbeState,
  type Shard,
  Task,
} from "../model/index.js";
import {
  advanceReplacements,
  bumpVersion,
  dataKnowledgeFrom,
  failoverShard,
  foldCompletedMigrations,
  NoCandidateError,
  type OpsDeps,
  PromotionBatch,
  pushCommitted,
  readTaskDocs,
  recordedMoves,
  recordRefusedFailover,
  type StoredTask,
  updateTopology,
} from "../ops/index.js";
import type { ClusterRoundRead, CorruptDoc, Fence, Revision, Store } from "../store/index.js";
import { type PushResult, pushTopologyToNode, viewMatches } from "../topology/index.js";
import { confirmDown, type Verdict } from "./confirm.js";
import { type CounterSettings, nextCounters } from "./counters.js";
import { nextDataGuard, shardHeldData } from "./data-guard.js";
import { type Observation, observeNode } from "./observe.js";
import { judgeByQuorum, settleSuspicions } from "./quorum.js";

export interface ProbeSettings extends CounterSettings {
  /** Deadline for each node call during the round. */
  timeoutMs: number;
  /**
   * A master that fails its probe is re-probed every `confirmEveryMs` and judged down once
   * unreachable this long over `failures` consecutive probes. 0: one count per round only.
   */
  downAfterMs: number;
  confirmEveryMs: number;
  /** Above this share of nodes failing at once, fail nothing over: it is likely us. */
  safeModeRatio: number;
  /** Distinct observers that must judge a master down (`KVC_PROBE_QUORUM`); default 1. */
  quorum?: number;
  /** This invocation's observer name (`KVC_PROBE_OBSERVER`); default the host name. */
  observer?: string;
}

export interface FailoverDone {
  shard: number;
  oldMasterId: string;
  newMasterId: string;
  durationMs: number;
}

export interface Repair extends PushResult {
  reason: "behind" | "not_initialized" | "drift";
}

export interface ClusterRoundReport {
  ns: string;
  cluster: string;
  nodes: number;
  failed: number;
  safeMode: boolean;
  failovers: FailoverDone[];
  blocked: Record<string, string>;
  repairs: Repair[];
  ahead: Record<string, number>;
  stateWritten: boolean;
  migrations: MigrationEvent[];
  /** Completed migrations this round folded into the topology before anything else. */
  folded: number;
  /** Task documents that do not decode: skipped, never thrown into the round. */
  corrupt: CorruptDoc[];
  /** The round's lock was lost: it stopped before its next node side effect. */
  lockLost: boolean;
  /** Masters still waiting for their observer quorum after the round. */
  pendingQuorum: string[];
}

/**
 * Safe mode: more than `ratio` of the nodes fail at once (likely our own network, not theirs).
 * A node that failed the round before and fails again (a replica stopped for maintenance) is
 * no news about the probe being cut off, so it is left out of both counts: else a shard of a
 * master and two replicas, one stopped, would never fail its master over (2 of 3 failing).
 * Only nodes that answered the round before count as failing; every node answering now
 * counts as evidence against a split. Once on, the nodes counted when it began stay the
 * measure until it ends, so a split that lasts holds it although they answered no round since.
 * A node never probed counts as having answered.
 */
export function judgeSafeMode(
  observations: readonly Observation[],
  previous: ProbeState,
  ratio: number,
): { reason: string | null; nodes: string[] } {
  const failedBefore = (o: Observation) => (previous.nodes[o.node.id]?.failures ?? 0) > 0;
  const baseline = new Set(previous.safe_mode ? previous.safe_mode_nodes : []);
  const counted = observations.filter((o) =>
    !previous.safe_mode
      ? o.alive || !failedBefore(o)
      : // A state written before the baseline existed: every node, as safe mode then did.
        baseline.size === 0 || baseline.has(o.node.id) || o.alive,
  );
  const failed = counted.filter((o) => !o.alive).length;
  if (failed === 0 || failed / counted.length <= ratio) return { reason: null, nodes: [] };
  const left = observations.length - counted.length;
  return {
    reason: `${failed} of ${counted.length} nodes failed at once (more than ${Math.round(ratio * 100)}%${left > 0 ? `; ${left} already down before not counted` : ""}): failover suspended`,
    nodes: counted.map((o) => o.node.id).sort(),
  };
}

/**
 * Every shard whose master is judged down is failed over in the same round, all at once: a
 * rack or zone lost below the safe-mode threshold takes several masters, and one after another
 * each would wait for the one before it (on Kvrocks about a second each, its replica's stop).
 * The commits serialize at etcd by compare-and-swap; one push promotes them all (see
 * `PromotionBatch`).
 */
async function failOverDeadMasters(
  deps: OpsDeps,
  ns: string,
  name: string,
  cluster: Cluster,
  state: ProbeState,
  settings: ProbeSettings,
  fence: Fence | undefined,
  /** Masters back empty (or unknown) left uninitialized: no failover's push reaches them. */
  keepAway: ReadonlySet<string>,
): Promise<{ cluster: Cluster; done: FailoverDone[]; blocked: Record<string, string> }> {
  const blocked: Record<string, string> = {};
  const dead = cluster.shards.flatMap((shard, index) => {
    const master = masterOf(shard);
    const health = master ? state.nodes[master.id] : undefined;
    if (!master || !health || health.failures < settings.failures) return [];
    // Drained for maintenance (only ever by force as a master): the operator stops it on
    // purpose and brings it back; a failover would be the surprise drain exists to avoid.
    if (isDrained(master)) return [];
    return [{ index, master, health }];
  });
  const judged = await Promise.all(
    dead.map(async (d) => ({
      ...d,
      quorum: await judgeByQuorum(
        deps,
        { namespace: ns, cluster: name },
        d.index,
        d.master,
        state,
        { quorum: 1, observer: hostname(), waitMs: settings.intervalMs, ...settings },
        fence,
      ),
    })),
  );
  const due = judged.filter((d) => {
    if (!d.quorum.reached) blocked[String(d.index)] = d.quorum.why;
    return d.quorum.reached;
  });
  const batch = new PromotionBatch(deps, ns, due.length, keepAway);
  const settled = await Promise.allSettled(
    due.map(async ({ index, master, health, quorum }) => {
      const seat = batch.seat();
      try {
        const result = await failoverShard(
          deps,
          {
            ns,
            cluster: name,
            shard: index,
            expectedMasterId: master.id,
            reason: `master ${master.addr} failed ${health.failures} probes: ${health.last_error ?? "no answer"}`,
            failures: health.failures,
            knowledge: dataKnowledgeFrom(state, master.id),
            ...(quorum.reached && quorum.voters ? { voters: quorum.voters } : {}),
          },
          { fence, seat },
        );
        return { index, result };
      } catch (err) {
        if (
          err instanceof NoCandidateError ||
          isKvcError(err, "conflict") ||
          isKvcError(err, "not_found")
        ) {
          const why = errorMessage(err);
          blocked[String(index)] = why;
          if (err instanceof NoCandidateError && state.failover_blocked[String(index)] !== why)
            await recordRefusal(deps, ns, cluster, index, health.failures, why, fence);
          return null;
        }
        throw err;
      } finally {
        // A failover that never reached its push must not hold the others' push.
        seat.leave();
      }
    }),
  );
  // An unexpected error fails the round as before, once every failover of it has finished.
  const failed = settled.find((o) => o.status === "rejected");
  if (failed) throw failed.reason;
  const done: FailoverDone[] = [];
  let current = cluster;
  for (const o of settled) {
    const outcome = o.status === "fulfilled" ? o.value : null;
    if (!outcome) continue;
    const { index, result } = outcome;
    // The last commit holds every earlier one of the round.
    if (result.cluster.version > current.version) current = result.cluster;
    done.push({
      shard: index,
      oldMasterId: masterOf(cluster.shards[index]!)!.id,
      newMasterId: result.newMasterId,
      durationMs: result.durationMs,
    });
  }
  return { cluster: current, done, blocked };
}

/**
 * Whether the shard's master, recorded as holding data, has lost it: `lost` when it answers
 * not initialized at `sequence` 0 (a restart on an empty data dir, faster than down-after) or
 * as a master at `sequence` 0; `unknown` when it answers not initialized and its INFO could
 * not be read; null otherwise. A not-initialized node whose INFO shows data (a lost
 * nodes.conf) has not lost it. An unread INFO is no evidence either way: failed over on it, a
 * master holding its data would be demoted without down-after or quorum and full-sync from
 * the new master, losing its writes the replica lacks; pushed back as master, an empty one
 * would have its replicas full-sync the emptiness. So it is neither, until a round reads it.
 */
function dataLost(
  shard: Shard,
  master: ClusterNode,
  o: Observation | undefined,
  previous: ProbeState,
): { kind: "lost" | "unknown"; why: string } | null {
  if (!o?.alive || o.loading || !shardHeldData(shard, previous.masters_with_data)) return null;
  const sequence = o.replication?.sequence ?? null;
  if (o.notInitialized && sequence === null)
    return {
      kind: "unknown",
      why: `master ${master.addr} answers not initialized after holding data and its INFO could not be read: whether it kept its data is unknown, so it is neither failed over nor pushed this round`,
    };
  if (o.notInitialized && sequence === 0)
    return {
      kind: "lost",
      why: `master ${master.addr} lost its data: it answers not initialized at sequence 0 after holding data`,
    };
  if (!o.notInitialized && o.replication?.role === "master" && sequence === 0)
    return {
      kind: "lost",
      why: `master ${master.addr} lost its data: it answers as master at sequence 0 after holding data`,
    };
  return null;
}

/**
 * Masters that came back without their data are failed over at once, without down-after,
 * counts, quorum or safe mode: the node's own answer is the evidence, and every round it stays
 * master its replicas may full-sync the emptiness (Kvrocks's replica reconnects by itself).
 * The failover pushes the new topology to every node, the emptied one as a replica. Where no
 * replica can take over, the emptied master is kept from every repair push (`keepAway`): the
 * shard stays down, and health says why, rather than serve nothing and wipe its replicas.
 */
async function failOverEmptiedMasters(
  deps: OpsDeps,
  ns: string,
  cluster: Cluster,
  observations: readonly Observation[],
  state: ProbeState,
  previous: ProbeState,
  fence: Fence | undefined,
): Promise<{
  cluster: Cluster;
  done: FailoverDone[];
  blocked: Record<string, string>;
  keepAway: Set<string>;
}> {
  const byId = new Map(observations.map((o) => [o.node.id, o]));
  const done: FailoverDone[] = [];
  const blocked: Record<string, string> = {};
  const keepAway = new Set<string>();
  let current = cluster;
  for (const [index, shard] of cluster.shards.entries()) {
    const master = masterOf(shard);
    const lost = master ? dataLost(shard, master, byId.get(master.id), previous) : null;
    if (!master || !lost) continue;
    const why = lost.why;
    if (lost.kind === "unknown") {
      // Kept from the repair push too; the next round that reads its INFO decides.
      keepAway.add(master.id);
      blocked[String(index)] = why;
      continue;
    }
    try {
      const result = await failoverShard(
        deps,
        {
          ns,
          cluster: cluster.name,
          shard: index,
          expectedMasterId: master.id,
          reason: why,
          failures: 0,
          knowledge: dataKnowledgeFrom(state, master.id),
        },
        // The set grows as later shards are judged: one judged before this push is spared.
        { fence, keepAway },
      );
      current = result.cluster;
      done.push({
        shard: index,
        oldMasterId: master.id,
        newMasterId: result.newMasterId,
        durationMs: result.durationMs,
      });
    } catch (err) {
      if (
        !(
          err instanceof NoCandidateError ||
          isKvcError(err, "conflict") ||
          isKvcError(err, "not_found")
        )
      )
        throw err;
      keepAway.add(master.id);
      blocked[String(index)] = `${why}; ${errorMessage(err)}`;
      if (
        err instanceof NoCandidateError &&
        state.failover_blocked[String(index)] !== blocked[String(index)]
      )
        await recordRefusal(deps, ns, cluster, index, 0, blocked[String(index)]!, fence);
    }
  }
  return { cluster: current, done, blocked, keepAway };
}

/** A refusal is history only when its reason is new: a dead master writes it once, not every round. */
async function recordRefusal(
  deps: OpsDeps,
  ns: string,
  cluster: Cluster,
  shard: number,
  failures: number,
  why: string,
  fence: Fence | undefined,
): Promise<void> {
  const master = masterOf(cluster.shards[shard]!)!;
  try {
    await recordRefusedFailover(
      deps,
      { ns, cluster, shard, master, reason: `not failed over: ${why}`, failures },
      { fence },
    );
  } catch (err) {
    deps.log
      .child({ namespace: ns, cluster: cluster.name, shard })
      .warn({ error: errorMessage(err) }, "failover: refusal not written to history");
  }
}

/**
 * Pushes the stored topology to nodes that are behind or uninitialized. A node that disagrees
 * at the same version (drift) gets a new version: raised by a compare-and-swap (completed
 * migrations folded in) and pushed normally. Never Kvrocks's `force`, which would apply the
 * version read at the start of the round over a newer one pushed since.
 */
async function repairNodes(
  deps: OpsDeps,
  ns: string,
  cluster: Cluster,
  /** The etcd revision `cluster` was read at. */
  revision: Revision,
  observations: readonly Observation[],
  skip: ReadonlySet<string>,
  timeoutMs: number,
  fence: Fence | undefined,
): Promise<{ repairs: Repair[]; ahead: Record<string, number>; cluster: Cluster }> {
  const ahead: Record<string, number> = {};
  const reasons = new Map<string, Repair["reason"]>();
  const current = new Map(cluster.shards.flatMap((s) => s.nodes).map((n) => [n.id, n]));
  for (const o of observations) {
    const node = current.get(o.node.id);
    if (!node || !o.alive || o.loading || skip.has(node.id) || o.version === null) continue;
    if (o.notInitialized) reasons.set(node.id, "not_initialized");
    else if (o.version < cluster.version) reasons.set(node.id, "behind");
    else if (o.version > cluster.version) ahead[node.id] = o.version;
    else if (o.view && !viewMatches(cluster, o.view)) reasons.set(node.id, "drift");
  }
  if (reasons.size === 0) return { repairs: [], ahead, cluster };
  // The round's read may be seconds old (read with other clusters', slow nodes on the way):
  // a repair pushes only the topology etcd holds now, and never while a switchover pushes in
  // its own order. Rare, so the second read costs nothing on a healthy round.
  const [now, switching] = await Promise.all([
    deps.store.getCluster(ns, cluster.name),
    deps.store.switchoverUnderWay(ns, cluster.name),
  ]);
  if (switching || now.revision !== revision) return { repairs: [], ahead: {}, cluster };
  if ([...reasons.values()].includes("drift")) {
    const bumped = await updateTopology(
      deps,
      ns,
      cluster.name,
      (c) => {
        // The drift was judged against `cluster`: a newer topology is judged next round.
        if (c.version !== cluster.version)
          throw conflict(`cluster ${ns}/${cluster.name} changed since the round read it`);
        return bumpVersion(c);
      },
      { fence },
    );
    // Pushed as every committed change is: a migration the nodes completed since the commit
    // asked them is folded first, or the new version would hand its range back to the source.
    const pushed = await pushCommitted(deps, ns, bumped.cluster, {
      fence,
      only: new Set(
        bumped.cluster.shards
          .flatMap((s) => s.nodes.map((n) => n.id))
          .filter((id) => !skip.has(id)),
      ),
    });
    const repairs = pushed.push
      .filter((r) => reasons.has(r.id))
      .map((r) => ({ ...r, reason: reasons.get(r.id)! }));
    return { repairs, ahead, cluster: pushed.cluster };
  }
  const repairs = await Promise.all(
    [...reasons].map(([id, reason]) =>
      pushTopologyToNode(cluster, current.get(id)!, { timeoutMs }).then((r) => ({ ...r, reason })),
    ),
  );
  return { repairs, ahead, cluster };
}

/**
 * Re-probes every master that failed the round's probe (not one that answered LOADING: that
 * is alive) until each answers or is judged down; all at once, so one slow master does not
 * delay another's verdict.
 */
async function confirmSuspectedMasters(
  deps: OpsDeps,
  cluster: Cluster,
  observations: readonly Observation[],
  sent: number,
  settings: ProbeSettings,
  previous: ProbeState,
  ownLease: string | undefined,
  signal: AbortSignal | undefined,
  log: OpsDeps["log"],
): Promise<Map<string, Verdict>> {
  const masters = new Set(cluster.shards.map((s) => masterOf(s)?.id));
  const suspects = observations.filter((o) => !o.alive && masters.has(o.node.id));
  const sleep = (ms: number) => delay(ms, undefined, { signal }).catch(() => undefined);
  const verdicts = await Promise.all(
    suspects.map((o) => {
      const pending = stillPending(previous, o.node.id, settings, ownLease);
      // Judged down by this owner in an earlier round, no round saw it answer since, and it
      // fails again: still down. Not confirmed afresh, so the round goes straight to counting
      // the witnesses' votes (they confirm on their own) instead of spending down-after first.
      // Another owner's judgement is not ours: a new owner confirms for itself.
      if (pending) return Promise.resolve(stillDown(o, pending.since, previous, deps.now()));
      // Down-after is measured on the monotonic clock (`sent` too, and the pool's drops): a
      // wall clock stepped meanwhile (NTP, a resumed VM) must not lengthen or shorten it.
      return confirmDown(
        o,
        sent,
        settings,
        { now: monotonic(deps), sleep, pool: deps.nodePool },
        signal,
      );
    }),
  );
  for (const [i, o] of suspects.entries()) {
    const verdict = verdicts[i]!;
    if (verdict.kind === "down" && !stillPending(previous, o.node.id, settings, ownLease))
      log.info(
        {
          node: o.node.id,
          addr: o.node.addr,
          // On the wall clock: `since` is the monotonic clock's, meaningless outside.
          unreachable_since: Math.round(deps.now() - verdict.unreachableMs),
          unreachable_ms: Math.round(verdict.unreachableMs),
          failed_probes: verdict.probes,
        },
        "probe: master judged down",
      );
    // A suspicion that came to nothing leaves no trace in etcd: the log is its record.
    if (verdict.kind === "recovered")
      log.info(
        { node: o.node.id, addr: o.node.addr, failed_probes: verdict.probes, first_error: o.error },
        "probe: suspected master answered again",
      );
  }
  return new Map(suspects.map((o, i) => [o.node.id, verdicts[i]!]));
}

/** The quorum this owner's own judgement left pending on `id` in an earlier round, if any. */
function stillPending(
  previous: ProbeState,
  id: string,
  settings: ProbeSettings,
  ownLease: string | undefined,
) {
  const pending = previous.quorum[id];
  if (!pending || (settings.quorum ?? 1) <= 1 || ownLease === undefined) return undefined;
  return pending.owner_lease === ownLease ? pending : undefined;
}

/** The verdict on a master that waits for its quorum and failed this round's probe too. */
function stillDown(o: Observation, since: number, previous: ProbeState, now: number): Verdict {
  const failures = previous.nodes[o.node.id]?.failures ?? 0;
  return {
    kind: "down",
    since,
    probes: failures + 1,
    unreachableMs: now - since,
    refusedOnly: o.failure === "refused",
    error: o.error,
  };
}

/** The process's never-stepping clock (see `OpsDeps.monotonic`). */
function monotonic(deps: OpsDeps): () => number {
  return deps.monotonic ?? (() => performance.now());
}

/** A master judged down by its confirmation is failed over this round, whatever the counters say. */
function withVerdicts(
  nodes: ProbeState["nodes"],
  verdicts: ReadonlyMap<string, Verdict>,
): ProbeState["nodes"] {
  for (const [id, verdict] of verdicts) {
    const health = nodes[id];
    if (!health || verdict.kind !== "down") continue;
    const how = verdict.refusedOnly ? "refused connections" : "did not answer";
    nodes[id] = {
      ...health,
      failures: Math.max(health.failures, verdict.probes),
      down: true,
      last_error: `${how} for ${Math.round(verdict.unreachableMs)} ms over ${verdict.probes} probes: ${verdict.error ?? "no answer"}`,
    };
  }
  return nodes;
}

/** A cluster's round inputs, read with other clusters' (see `Store.readClusterRounds`). */
export type ProbeRoundRead = ClusterRoundRead<ProbeState, Task>;

export const PROBE_ROUND_SCHEMAS = { state: ProbeState, task: Task };

/** Topology, probe state and switchover marker: from `read` when given, else from etcd. */
async function roundInputs(store: Store, ns: string, name: string, read?: ProbeRoundRead) {
  if (!read) {
    return Promise.all([
      store.getCluster(ns, name),
      store.getDocOrCorrupt(store.keys.probeState(ns, name), ProbeState),
      store.switchoverUnderWay(ns, name),
    ]);
  }
  if (!read.cluster) {
    const message = read.error?.message ?? `cluster ${ns}/${name} not found`;
    throw read.error?.kind === "invalid" ? invalid(message) : notFound(message);
  }
  return [read.cluster, read.state, read.switchover] as const;
}

/** Topologies shared between rounds (frozen, see `TopologyCache`) already found valid. */
const validated = new WeakSet<Cluster>();

function assertValidOnce(cluster: Cluster): void {
  if (validated.has(cluster)) return;
  assertClusterValid(cluster);
  if (Object.isFrozen(cluster)) validated.add(cluster);
}

/** Thrown between steps once the round's lock is lost. */
class LockLost extends Error {}

/** Thrown inside a round to skip its node side effects while a switchover pushes in order. */
class SwitchoverUnderWay extends Error {}

export async function probeCluster(
  deps: OpsDeps,
  ns: string,
  name: string,
  settings: ProbeSettings,
  fence?: Fence,
  /** The round's lock signal: aborted once the lock is lost. */
  signal?: AbortSignal,
  /** The round's etcd inputs, already read with other clusters'; read here when absent. */
  pre?: ProbeRoundRead,
): Promise<ClusterRoundReport> {
  const { store } = deps;
  const started = deps.now();
  const log = deps.log.child({ namespace: ns, cluster: name });
  const stateKey = store.keys.probeState(ns, name);
  const [{ cluster, revision }, read, switching] = await roundInputs(store, ns, name, pre);
  const held = () => {
    if (signal?.aborted) throw new LockLost();
  };
  // A cluster that breaks the invariants is neither pushed nor failed over: report it.
  assertValidOnce(cluster);
  if (read.corrupt)
    log.warn({ error: read.corrupt.error }, "probe state unreadable: starting it afresh");
  const stored =
    read.doc ??
    (read.corrupt ? { value: emptyProbeState(), revision: read.corrupt.revision } : null);
  const previous = stored?.value ?? emptyProbeState();

  const sent = monotonic(deps)();
  const observed = await Promise.all(
    cluster.shards
      .flatMap((s) => s.nodes)
      .map((node) => observeNode(node, settings.timeoutMs, deps.nodePool)),
  );
  // Safe mode is judged on the round's own look: a confirmation never talks it away.
  // Drained nodes are down on purpose: no evidence of a split either way.
  const safe = judgeSafeMode(
    observed.filter((o) => !isDrained(o.node)),
    previous,
    settings.safeModeRatio,
  );
  const safeReason = safe.reason;
  const verdicts =
    safeReason === null && settings.downAfterMs > 0
      ? await confirmSuspectedMasters(
          deps,
          cluster,
          observed,
          sent,
          settings,
          previous,
          fence?.lease,
          signal,
          log,
        )
      : new Map<string, Verdict>();
  const observations = observed.map((o) => {
    const verdict = verdicts.get(o.node.id);
    return verdict?.kind === "recovered" ? verdict.observation : o;
  });
  const now = deps.now();
  const state: ProbeState = {
    ...previous,
    quorum: { ...previous.quorum },
    nodes: withVerdicts(nextCounters(previous, cluster, observations, now, settings), verdicts),
    ...nextDataGuard(previous, cluster, observations),
  };

  state.safe_mode = safeReason !== null;
  state.safe_mode_reason = safeReason;
  state.safe_mode_nodes = safe.nodes;

  let current = cluster;
  let failovers: FailoverDone[] = [];
  let blocked: Record<string, string> = {};
  let folded = 0;
  let repairs: Repair[] = [];
  let ahead: Record<string, number> = {};
  try {
    // A planned switchover pushes its topology in a careful order: this round neither fails
    // over nor repairs (the new master would look behind etcd), it only counts.
    if (switching) throw new SwitchoverUnderWay();
    // A migration the nodes completed goes into the topology before any failover or repair
    // pushes one without it. No node is asked when the cluster records no migration.
    if (recordedMoves(cluster).length > 0) {
      held();
      try {
        const outcome = await foldCompletedMigrations(deps, ns, name, { fence, signal });
        // Nothing folded: keep the topology the switchover marker was read with.
        if (outcome.folded.length > 0) {
          current = outcome.cluster;
          folded = outcome.folded.length;
        }
      } catch (err) {
        log.warn({ error: errorMessage(err) }, "migration: completed move not folded yet");
      }
    }
    held();
    const emptied = await failOverEmptiedMasters(
      deps,
      ns,
      current,
      observations,
      state,
      previous,
      fence,
    );
    current = emptied.cluster;
    failovers = emptied.done;
    blocked = emptied.blocked;
    if (!state.safe_mode) {
      held();
      const outcome = await failOverDeadMasters(
        deps,
        ns,
        name,
        current,
        state,
        settings,
        fence,
        emptied.keepAway,
      );
      current = outcome.cluster;
      failovers = [...failovers, ...outcome.done];
      blocked = { ...blocked, ...outcome.blocked };
    }
    state.failover_blocked = blocked;

    // A failover already pushed its new topology to every node; repair only the rest.
    const pushed = new Set(
      failovers.length > 0 || folded > 0
        ? current.shards.flatMap((s) => s.nodes.map((n) => n.id))
        : emptied.keepAway,
    );
    held();
    // After a fold or failover `current` is what this round committed: its revision is not
    // known here, so such a round repairs nothing more (it pushed to every node already).
    const repaired = await repairNodes(
      deps,
      ns,
      current,
      current === cluster ? revision : "",
      observations,
      pushed,
      settings.timeoutMs,
      fence,
    );
    repairs = repaired.repairs;
    ahead = repaired.ahead;
    current = repaired.cluster;
  } catch (err) {
    if (err instanceof SwitchoverUnderWay) {
      log.info("probe: a planned switchover is under way: no failover or repair this round");
      state.failover_blocked = previous.failover_blocked;
    } else if (err instanceof LockLost) {
      log.warn("probe: lock lost, round stopped before touching more nodes");
    } else throw err;
  }
  const lockLost = signal?.aborted ?? false;
  state.ahead = ahead;
  // Every round, safe mode and switchovers included: a master that answers again, or is no
  // longer a master, has its suspicion and the votes on it removed.
  if (!lockLost)
    await settleSuspicions(
      deps,
      { namespace: ns, cluster: name },
      current,
      state,
      settings.failures,
      fence,
    );

  for (const r of repairs) {
    if (r.ok)
      log.info(
        { node: r.id, addr: r.addr, reason: r.reason, version: current.version },
        "repair: pushed the topology",
      );
    else
      log.warn(
        { node: r.id, addr: r.addr, reason: r.reason, error: r.error },
        "repair: push failed",
      );
  }
  for (const [shard, why] of Object.entries(blocked))
    log.warn({ shard: Number(shard), reason: why }, "failover: not done");
  for (const [node, version] of Object.entries(ahead)) {
    log.warn(
      { node, reported_version: version, stored_version: current.version },
      "node claims a newer version than etcd",
    );
  }
  if (state.safe_mode && !previous.safe_mode)
    log.warn({ reason: state.safe_mode_reason }, "safe mode: failover suspended");

  // Written only when something changed, or when the heartbeat is due: a healthy round costs
  // etcd nothing, yet a scrape can still tell a stalled probe from a quiet one.
  const changed =
    JSON.stringify({ ...ProbeState.parse(state), last_round: null }) !==
    JSON.stringify({ ...previous, last_round: null });
  const heartbeatDue = !previous.last_round || now - previous.last_round.at >= settings.heartbeatMs;
  let stateWritten = false;
  if ((changed || heartbeatDue) && !lockLost) {
    const outcome =
      failovers.length > 0
        ? "failover"
        : state.safe_mode
          ? "safe_mode"
          : repairs.length > 0
            ? "repaired"
            : "ok";
    state.last_round = { at: now, duration_ms: deps.now() - started, outcome };
    await store.putDoc(stateKey, ProbeState.parse(state), {
      expectRevision: stored?.revision ?? "absent",
      fence,
    });
    stateWritten = true;
  }
  // After repairs, so a node that was behind has the topology before it is sent MIGRATE. The
  // tasks are read only now, leniently: failover never depends on migration bookkeeping.
  let corrupt: CorruptDoc[] = [];
  let migrations: MigrationEvent[] = [];
  // No task read with the inputs and no migration in the topology: nothing to advance (a task
  // created since is advanced next round).
  const idle =
    pre?.tasks.docs.every(
      (d) => !isActive(d.value) && d.value.in_flight === null && d.value.source_config.length === 0,
    ) &&
    pre.tasks.corrupt.length === 0 &&
    current.shards.every((s) => s.migrating_slot === null);
  if (!lockLost && !switching && !idle) {
    let tasks: StoredTask[] | undefined;
    try {
      const read = await readTaskDocs(store, ns, name);
      tasks = read.tasks;
      corrupt = read.corrupt;
    } catch (err) {
      log.warn({ error: errorMessage(err) }, "migration: tasks not readable this round");
    }
    for (const c of corrupt)
      log.warn({ key: c.key, error: c.error }, "migration: task document unreadable, skipped");
    if (tasks)
      migrations = await advanceMigrations(deps, ns, name, { fence, signal, hint: current, tasks });
    // Node replacements, after the migrations: a replacement's switchover is its own step.
    // Its bookkeeping never fails the round (failover and repair are done by now).
    if (tasks?.some((d) => d.task.kind === "replace_node" && isActive(d.task)) && !signal?.aborted)
      await advanceReplacements(deps, ns, name, { fence, signal }).then(
        (events) => {
          for (const e of events)
            log.info({ task: e.task, detail: e.detail }, `replace: ${e.event}`);
        },
        (err: unknown) =>
          log.warn({ error: errorMessage(err) }, "replace: not advanced this round"),
      );
  }
  for (const m of migrations)
    log.info({ task: m.task, range: m.range, detail: m.detail }, `migration: ${m.event}`);
  log.debug(
    {
      nodes: observations.length,
      failed: observations.filter((o) => !o.alive).length,
      state_written: stateWritten,
    },
    "probe: cluster round done",
  );
  return {
    ns,
    cluster: name,
    nodes: observations.length,
    failed: observations.filter((o) => !o.alive).length,
    safeMode: state.safe_mode,
    failovers,
    blocked,
    repairs,
    ahead,
    stateWritten,
    migrations,
    folded,
    corrupt,
    lockLost,
    pendingQuorum: Object.keys(state.quorum),
  };
}
