// The one failover, used by the manual route and by the probe: promote the shard's best replica.
import { conflict, errorMessage, invalid, KvcError, notFound } from "../errors.js";
import { type NodePool, type ReplicationInfo, withNode } from "../kvrocks/index.js";
import { allNodes, type Cluster, type ClusterNode, masterOf, ProbeState } from "../model/index.js";
import type { Fence } from "../store/index.js";
import { type PushResult, pushTopology, pushTopologyToNode } from "../topology/index.js";
import { shardAt, withMasterChanged } from "./compute.js";
import type { OpsDeps } from "./deps.js";
import { recordHistory } from "./history.js";
import { logPushFailures } from "./push.js";
import { updateTopology } from "./topology-changes.js";

export interface CandidateReport {
  id: string;
  addr: string;
  info: ReplicationInfo | null;
  error: string | null;
  /** Why the node cannot be promoted; null when it can. */
  ineligible: string | null;
}

/**
 * What is known of where the shard's data is beyond the replicas' own answers: from the probe
 * state (the master may be dead) and, when it answers, the master itself.
 */
export interface DataKnowledge {
  /** The master held data (`sequence` > 0) when last seen. */
  masterHadData: boolean;
  /** Replica id -> why it lacks writes the master took (its link was down meanwhile). */
  stale: Record<string, string>;
  /** Replica id -> the master's sequence when its link was first seen down: it must hold that. */
  holds?: Record<string, number>;
}

/** The reasons `force` waives: the node answers and could serve, but lacks data. */
const DATA_RULE = /has no data|missed writes/;

export const NOTHING_KNOWN: DataKnowledge = { masterHadData: false, stale: {} };

/** The knowledge about one shard's master from the probe state's data fields. */
export function dataKnowledgeFrom(
  state: Pick<ProbeState, "masters_with_data" | "replica_lag">,
  masterId: string,
): DataKnowledge {
  const stale: Record<string, string> = {};
  const holds: Record<string, number> = {};
  for (const [id, lag] of Object.entries(state.replica_lag)) {
    holds[id] = lag.master_sequence;
    if (lag.stale)
      stale[id] =
        `missed writes: its link to the master was down while the master wrote past sequence ${lag.master_sequence}`;
  }
  return { masterHadData: state.masters_with_data.includes(masterId), stale, holds };
}

/**
 * The rules, pure: answers, is a slave, not in full sync, and holds the shard's data: not
 * empty while the master or another replica had data, not behind writes it missed. `forced`
 * (an operator naming the node) waives the data rules for that node only.
 */
export function rankCandidates(
  reports: readonly Omit<CandidateReport, "ineligible">[],
  knowledge: DataKnowledge = NOTHING_KNOWN,
  forced?: string,
): CandidateReport[] {
  const anyoneHasData = reports.some(
    (r) => r.info && r.info.role === "slave" && r.info.sequence > 0,
  );
  return reports.map((r) => {
    let ineligible: string | null = null;
    if (!r.info) ineligible = `does not answer (${r.error ?? "no reply"})`;
    else if (r.info.role !== "slave") ineligible = `reports role:${r.info.role}`;
    else if (r.info.syncInProgress) ineligible = "is in a full sync (master_sync_in_progress:1)";
    else if (r.id === forced) ineligible = null;
    else if (knowledge.masterHadData && r.info.sequence === 0)
      ineligible = "has no data (sequence 0) while its master had data";
    else if (anyoneHasData && r.info.sequence === 0)
      ineligible = "has no data while another replica has";
    else if (knowledge.stale[r.id]) ineligible = knowledge.stale[r.id] ?? null;
    else if (r.info.sequence < (knowledge.holds?.[r.id] ?? 0))
      ineligible = `missed writes: at sequence ${r.info.sequence}, while its master had reached ${knowledge.holds?.[r.id]} when its link was seen down`;
    return { ...r, ineligible };
  });
}

/** Preferred node if eligible, else the highest sequence, ties broken by replication offset. */
export function pickNewMaster(candidates: readonly CandidateReport[]): CandidateReport | null {
  const eligible = candidates.filter((c) => c.ineligible === null && c.info);
  eligible.sort(
    (a, b) =>
      (b.info?.sequence ?? 0) - (a.info?.sequence ?? 0) ||
      (b.info?.slaveReplOffset ?? 0) - (a.info?.slaveReplOffset ?? 0),
  );
  return eligible[0] ?? null;
}

/**
 * INFO replication + keyspace of each node; a node that does not answer has `info: null`.
 * Over `pool`'s kept connections when given (the probe's): no connect before the question.
 */
export async function surveyNodes(
  nodes: readonly ClusterNode[],
  timeoutMs: number,
  pool?: NodePool,
): Promise<Omit<CandidateReport, "ineligible">[]> {
  const use = pool ? pool.use.bind(pool) : withNode;
  return Promise.all(
    nodes.map(async (node) => {
      try {
        const info = await use(node.addr, { password: node.password, timeoutMs }, (c) =>
          c.replicationInfo(),
        );
        return { id: node.id, addr: node.addr, info, error: null };
      } catch (err) {
        return { id: node.id, addr: node.addr, info: null, error: errorMessage(err) };
      }
    }),
  );
}

export async function surveyReplicas(
  replicas: readonly ClusterNode[],
  timeoutMs: number,
  knowledge: DataKnowledge = NOTHING_KNOWN,
  forced?: string,
  pool?: NodePool,
): Promise<CandidateReport[]> {
  return rankCandidates(await surveyNodes(replicas, timeoutMs, pool), knowledge, forced);
}

/**
 * For a request that brings no knowledge (manual): what the probe state remembers, and the
 * master's own `sequence` when it answers. An unreadable probe state knows nothing.
 */
async function knowledgeOf(
  deps: OpsDeps,
  request: FailoverRequest,
  master: ClusterNode,
): Promise<{ knowledge: DataKnowledge; masterAlive: boolean }> {
  if (request.knowledge) return { knowledge: request.knowledge, masterAlive: false };
  const [read, [masterReport]] = await Promise.all([
    deps.store.getDocOrCorrupt(deps.store.keys.probeState(request.ns, request.cluster), ProbeState),
    surveyNodes([master], deps.nodeTimeoutMs),
  ]);
  const known = read.doc ? dataKnowledgeFrom(read.doc.value, master.id) : NOTHING_KNOWN;
  const masterAlive = masterReport?.info?.role === "master";
  const live = masterAlive ? (masterReport?.info?.sequence ?? 0) : 0;
  return {
    knowledge: { ...known, masterHadData: known.masterHadData || live > 0 },
    masterAlive,
  };
}

export const DEFAULT_SWITCHOVER_CATCHUP_MS = 2000;

async function sequenceOf(node: ClusterNode, timeoutMs: number): Promise<number> {
  const info = await withNode(node.addr, { password: node.password, timeoutMs }, (c) =>
    c.replicationInfo(),
  );
  return info.sequence;
}

/** Polls the node until its `sequence` reaches `target`; false when `withinMs` passes first. */
async function waitForSequence(
  node: ClusterNode,
  target: number,
  withinMs: number,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const seen = await sequenceOf(node, timeoutMs).catch(() => -1);
    if (seen >= target) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A planned switchover with a live master, safe by order rather than by timing: the old
 * master gets the new topology first (it stops taking writes and redirects), the new master
 * must then reach the old master's final `sequence`, and only then does it and every other
 * node get the new topology. Where the node accepts `CLIENT PAUSE ... WRITE` (newer Kvrocks)
 * writes are paused around the switch. Not caught up in time: the previous master is restored
 * (a new version, by CAS) and the answer is a conflict saying why.
 */
async function switchOver(
  deps: OpsDeps,
  request: FailoverRequest,
  cluster: Cluster,
  oldMaster: ClusterNode,
  newMasterId: string,
): Promise<PushResult[]> {
  const timeoutMs = deps.nodeTimeoutMs;
  const catchupMs = deps.switchoverCatchupMs ?? DEFAULT_SWITCHOVER_CATCHUP_MS;
  const newMaster = shardAt(cluster, request.shard).nodes.find((n) => n.id === newMasterId)!;
  const options = { password: oldMaster.password, timeoutMs };
  const paused = await withNode(oldMaster.addr, options, (c) =>
    c.pauseWrites(catchupMs + 4 * timeoutMs),
  ).catch(() => false);
  const first = await pushTopologyToNode(cluster, oldMaster, { timeoutMs });
  // Refused as older than what it holds: a later change (built on this one) got there first.
  const holds = first.ok || (await versionOf(oldMaster, timeoutMs)) >= cluster.version;
  let failure: string | null = holds
    ? null
    : `the old master did not take the new topology (${first.error})`;
  if (!failure) {
    const final = await sequenceOf(oldMaster, timeoutMs).catch(() => null);
    if (final === null) failure = "the old master's final sequence could not be read";
    else if (!(await waitForSequence(newMaster, final, catchupMs, timeoutMs)))
      failure = `${newMaster.addr} did not reach the old master's sequence ${final} within ${catchupMs} ms`;
  }
  if (failure && (await restorePreviousMaster(deps, request, cluster, oldMaster.id))) {
    if (paused) await withNode(oldMaster.addr, options, (c) => c.unpause()).catch(() => {});
    throw conflict(
      `switchover of shard ${request.shard} undone: ${failure}; ${oldMaster.addr} stays master`,
    );
  }
  const others = new Set(
    allNodes(cluster)
      .filter((n) => n.id !== oldMaster.id)
      .map((n) => n.id),
  );
  const rest = await pushTopology(cluster, { timeoutMs, only: others });
  if (paused) await withNode(oldMaster.addr, options, (c) => c.unpause()).catch(() => {});
  return [first, ...rest];
}

async function versionOf(node: ClusterNode, timeoutMs: number): Promise<number> {
  return withNode(node.addr, { password: node.password, timeoutMs }, (c) => c.version()).catch(
    () => -1,
  );
}

/**
 * Makes the old master master again, as a new version, and pushes it to every node. False
 * when the cluster changed since the switch: that later version, already built on the
 * switch and pushed by its writer, stands, and the switchover with it.
 */
async function restorePreviousMaster(
  deps: OpsDeps,
  request: FailoverRequest,
  switched: Cluster,
  oldMasterId: string,
): Promise<boolean> {
  const moved = new Error("moved on");
  let restored: Awaited<ReturnType<typeof updateTopology>>;
  try {
    // Through the shared commit: a move the nodes completed meanwhile is folded in, not undone.
    restored = await updateTopology(deps, request.ns, request.cluster, (current) => {
      if (current.version !== switched.version) throw moved;
      return withMasterChanged(current, request.shard, oldMasterId);
    });
  } catch (err) {
    if (err === moved) return false;
    throw err;
  }
  const old = shardAt(restored.cluster, request.shard).nodes.find((n) => n.id === oldMasterId)!;
  // The old master first: it takes writes again as soon as it is master.
  await pushTopologyToNode(restored.cluster, old, { timeoutMs: deps.nodeTimeoutMs });
  await pushTopology(restored.cluster, { timeoutMs: deps.nodeTimeoutMs });
  return true;
}

export interface FailoverRequest {
  ns: string;
  cluster: string;
  shard: number;
  preferredNodeId?: string;
  /** Only fail over if this is still the master (the probe saw it die). */
  expectedMasterId?: string;
  /** Why: "manual", or what the probe saw. Goes into the failover history. */
  reason: string;
  /** The master's consecutive probe failures, when the probe asks. */
  failures?: number;
  /** The observers whose votes made the quorum, when one was needed. */
  voters?: string[];
  /** Promote `preferredNodeId` even if it lacks data the master had: the operator's call. */
  force?: boolean;
  /** Where the data is, as the probe knows it; read from the probe state when absent. */
  knowledge?: DataKnowledge;
}

export interface FailoverResult {
  oldMasterId: string;
  newMasterId: string;
  cluster: Cluster;
  candidates: CandidateReport[];
  push: PushResult[];
  durationMs: number;
  steps: FailoverSteps;
}

/** Where a failover's time went, in ms from its start: the log line's breakdown. */
export interface FailoverSteps {
  /** The stored cluster read. */
  read: number;
  /** The replicas asked for their replication offsets (and the master, for a manual one). */
  surveyed: number;
  /** The compare-and-swap of the new topology committed in etcd. */
  committed: number;
  /** The new master, and the last of the other nodes, took the new topology (or failed to). */
  pushed: { new_master?: number; others?: number };
}

export class NoCandidateError extends KvcError {
  constructor(
    message: string,
    readonly candidates: CandidateReport[],
  ) {
    super("invalid", message, "preferred_node_id");
  }
}

export interface FailoverOptions {
  fence?: Fence;
  /**
   * This failover's seat in a batch of failovers of the same cluster that run together: its
   * commit is its own, its push is the batch's (see `PromotionBatch`).
   */
  seat?: PromotionSeat;
}

export async function failoverShard(
  deps: OpsDeps,
  request: FailoverRequest,
  options: FailoverOptions = {},
): Promise<FailoverResult> {
  const started = deps.now();
  const { cluster } = await deps.store.getCluster(request.ns, request.cluster);
  const read = deps.now() - started;
  const shard = shardAt(cluster, request.shard);
  const master = masterOf(shard);
  if (!master) throw conflict(`shard ${request.shard} has no master`);
  if (request.expectedMasterId && master.id !== request.expectedMasterId) {
    throw conflict(`shard ${request.shard} master changed since it was probed`);
  }
  if (request.preferredNodeId && !shard.nodes.some((n) => n.id === request.preferredNodeId)) {
    throw notFound(`node ${request.preferredNodeId} not found in shard ${request.shard}`);
  }
  if (request.force && !request.preferredNodeId) {
    throw invalid("force needs preferred_node_id: name the node to promote", "force");
  }
  const replicas = shard.nodes.filter((n) => n.role === "slave");
  const { knowledge, masterAlive } = await knowledgeOf(deps, request, master);
  const candidates = await surveyReplicas(
    replicas,
    deps.nodeTimeoutMs,
    knowledge,
    request.force ? request.preferredNodeId : undefined,
    deps.nodePool,
  );
  const surveyed = deps.now() - started;

  let chosen: CandidateReport | null;
  if (request.preferredNodeId) {
    chosen = candidates.find((c) => c.id === request.preferredNodeId) ?? null;
    if (chosen?.ineligible) {
      // An operator who names a node wants that node; promoting another would surprise them.
      const hint = DATA_RULE.test(chosen.ineligible)
        ? " (to promote it anyway and lose that data, repeat with force)"
        : "";
      throw new NoCandidateError(
        `preferred node ${chosen.id} ${chosen.ineligible}${hint}`,
        candidates,
      );
    }
  } else {
    chosen = pickNewMaster(candidates);
  }
  if (!chosen) {
    const why = candidates.map((c) => `${c.addr} ${c.ineligible}`).join("; ");
    throw new NoCandidateError(
      `shard ${request.shard} has no replica to promote${why ? `: ${why}` : " (it has no replicas)"}`,
      candidates,
    );
  }
  const newMasterId = chosen.id;
  // A manual failover of a live master is a planned switchover; the probe's is not. The
  // marker keeps probe rounds from pushing the new topology to the new master before it
  // has caught up (they would see it behind etcd and repair it).
  const planned = masterAlive && !request.expectedMasterId;
  const marker = planned ? await beginSwitchover(deps, request) : null;
  try {
    return await commitFailover(
      deps,
      request,
      options,
      { master, newMasterId, candidates },
      { started, read, surveyed },
      planned,
    );
  } finally {
    await marker?.release().catch(() => {});
  }
}

async function beginSwitchover(deps: OpsDeps, request: FailoverRequest) {
  const catchupMs = deps.switchoverCatchupMs ?? DEFAULT_SWITCHOVER_CATCHUP_MS;
  // Past this a dead controller's marker expires and the probe repairs the nodes as usual.
  const ttlSeconds = Math.ceil((catchupMs + 6 * deps.nodeTimeoutMs) / 1000) + 1;
  const marker = await deps.store.beginSwitchover(request.ns, request.cluster, ttlSeconds);
  if (!marker) throw conflict(`a switchover of cluster ${request.cluster} is already under way`);
  return marker;
}

async function commitFailover(
  deps: OpsDeps,
  request: FailoverRequest,
  options: FailoverOptions,
  plan: { master: ClusterNode; newMasterId: string; candidates: CandidateReport[] },
  timing: { started: number; read: number; surveyed: number },
  planned: boolean,
): Promise<FailoverResult> {
  const { master, newMasterId, candidates } = plan;
  const { started } = timing;
  // Through the shared commit: a migration of this shard the nodes completed is folded into
  // the failover's topology, so the new master never takes back a range the target serves.
  const commit = () =>
    updateTopology(
      deps,
      request.ns,
      request.cluster,
      (current) => {
        // While we asked the replicas, someone may have failed this shard over, removed the
        // chosen node or renumbered the shards: the request was valid, the race lost.
        const shardNow = current.shards[request.shard];
        if (!shardNow || masterOf(shardNow)?.id !== master.id) {
          throw conflict(`shard ${request.shard} changed concurrently (failed over or removed)`);
        }
        if (!shardNow.nodes.some((n) => n.id === newMasterId)) {
          throw conflict(
            `node ${newMasterId} was removed from shard ${request.shard} concurrently`,
          );
        }
        return withMasterChanged(current, request.shard, newMasterId);
      },
      { fence: options.fence },
    );
  // In a batch, one commit at a time: siblings never spend their CAS attempts on each other.
  const updated = await (options.seat ? options.seat.commit(commit) : commit());
  const committed = deps.now() - started;
  const pushed: FailoverSteps["pushed"] = {};
  const heard = (which: keyof FailoverSteps["pushed"]) => {
    pushed[which] = deps.now() - started;
  };
  const push = planned
    ? await switchOver(deps, request, updated.cluster, master, newMasterId)
    : options.seat
      ? await options.seat.push(updated.cluster, newMasterId, heard)
      : await pushPromotion(deps, updated.cluster, new Map([[newMasterId, heard]]), heard);
  const durationMs = deps.now() - started;
  const steps: FailoverSteps = { read: timing.read, surveyed: timing.surveyed, committed, pushed };
  const log = deps.log.child({
    namespace: request.ns,
    cluster: request.cluster,
    shard: request.shard,
  });
  log.info(
    {
      old_master: master.id,
      old_master_addr: master.addr,
      new_master: newMasterId,
      version: updated.cluster.version,
      reason: request.reason,
      duration_ms: durationMs,
      started_at: started,
      steps_ms: steps,
    },
    "failover: promoted a replica",
  );
  logPushFailures(log, push);
  const promoted = shardAt(updated.cluster, request.shard).nodes.find((n) => n.id === newMasterId)!;
  // The failover happened; a history entry that cannot be written is logged, not an error.
  try {
    await recordHistory(
      deps.store,
      request.ns,
      request.cluster,
      {
        kind: "failover",
        at: started,
        shard: request.shard,
        old_master_id: master.id,
        old_master_addr: master.addr,
        new_master_id: newMasterId,
        new_master_addr: promoted.addr,
        reason: request.reason,
        outcome: "promoted",
        failures: request.failures ?? null,
        duration_ms: durationMs,
        version: updated.cluster.version,
        ...(request.voters ? { voters: request.voters } : {}),
      },
      { fence: options.fence },
    );
  } catch (err) {
    log.warn({ error: errorMessage(err) }, "failover: history entry not written");
  }

  return {
    oldMasterId: master.id,
    newMasterId,
    cluster: updated.cluster,
    candidates,
    push,
    durationMs,
    steps,
  };
}

/**
 * Kvrocks (2.10) answers the SETNODES that promotes a replica only once its replication thread
 * has stopped, and that thread sleeps in uninterruptible 1 s steps after its master's
 * connection dropped (plus a 100 ms stop timer): up to ≈ 1.1 s more than any other push. The
 * node's usual deadline would call a promotion that takes effect a failed push.
 */
const PROMOTION_GRACE_MS = 1500;

/**
 * Every node at once, the new masters with the grace above; each new master's callback hears
 * when it answered, `others` when the last of the other nodes did.
 */
async function pushPromotion(
  deps: OpsDeps,
  cluster: Cluster,
  newMasters: ReadonlyMap<string, (which: "new_master") => void>,
  others: (which: "others") => void,
): Promise<PushResult[]> {
  const rest = new Set(
    allNodes(cluster)
      .filter((n) => !newMasters.has(n.id))
      .map((n) => n.id),
  );
  const [promoted, pushed] = await Promise.all([
    Promise.all(
      [...newMasters].map(([id, done]) =>
        pushTopology(cluster, {
          timeoutMs: deps.nodeTimeoutMs + PROMOTION_GRACE_MS,
          only: new Set([id]),
        }).finally(() => done("new_master")),
      ),
    ),
    pushTopology(cluster, { timeoutMs: deps.nodeTimeoutMs, only: rest }).finally(() =>
      others("others"),
    ),
  ]);
  const order = new Map(allNodes(cluster).map((n, i) => [n.id, i]));
  return [...promoted.flat(), ...pushed].sort((a, b) => order.get(a.id)! - order.get(b.id)!);
}

/** One failover's place in a `PromotionBatch`. */
export interface PromotionSeat {
  /** After this failover's commit: resolves once the batch's one push is done. */
  push(
    committed: Cluster,
    newMasterId: string,
    heard: (which: keyof FailoverSteps["pushed"]) => void,
  ): Promise<PushResult[]>;
  /** Runs this failover's commit after the batch's earlier ones have finished. */
  commit<T>(run: () => Promise<T>): Promise<T>;
  /** This failover will not push (refused, lost its race, failed): stop waiting for it. */
  leave(): void;
}

/**
 * Failovers of several shards of one cluster that run together (masters lost to one rack).
 * Each commits its own change by compare-and-swap, one after another (each builds on the ones
 * before it; a race lost to another writer retries on the fresh read, and with several seats
 * racing each other a large batch would run out of attempts), and once every seat has
 * committed or left, one push of the last committed topology promotes every new master at
 * once: Kvrocks holds each promotion until its replica's replication thread stops (about a
 * second after a kill), so these waits overlap instead of adding up, and no node is sent an
 * older version another failover of the batch already replaced. A seat's commit that never
 * comes (it threw) must `leave`, or the others would wait for it; the callers' `finally`.
 */
export class PromotionBatch {
  private waiting: number;
  private readonly joined: {
    cluster: Cluster;
    newMasterId: string;
    heard: (which: keyof FailoverSteps["pushed"]) => void;
  }[] = [];
  private readonly pushed: Promise<PushResult[]>;
  private start!: () => void;
  private commits: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: OpsDeps,
    seats: number,
  ) {
    this.waiting = seats;
    this.pushed = new Promise<void>((resolve) => {
      this.start = resolve;
    }).then(() => this.pushLast());
    // Rejections reach every seat through `push`; none is left unhandled without a seat.
    this.pushed.catch(() => {});
  }

  seat(): PromotionSeat {
    let seated = true;
    const release = () => {
      if (!seated) return false;
      seated = false;
      if (--this.waiting === 0) this.start();
      return true;
    };
    return {
      push: (cluster, newMasterId, heard) => {
        if (!seated) throw new Error("a batch seat pushes once");
        this.joined.push({ cluster, newMasterId, heard });
        release();
        return this.pushed;
      },
      commit: (run) => {
        const done = this.commits.then(run);
        this.commits = done.catch(() => {});
        return done;
      },
      leave: () => {
        release();
      },
    };
  }

  private async pushLast(): Promise<PushResult[]> {
    if (this.joined.length === 0) return [];
    // Each commit was built on the ones before it: the highest version holds them all.
    const last = this.joined.reduce((a, b) => (b.cluster.version > a.cluster.version ? b : a));
    return pushPromotion(
      this.deps,
      last.cluster,
      new Map(this.joined.map((j) => [j.newMasterId, j.heard])),
      () => {
        for (const j of this.joined) j.heard("others");
      },
    );
  }
}

/**
 * A failover that was due and did not happen, in the failover history: the probe calls it
 * when a shard's reason changes, not every round.
 */
export async function recordRefusedFailover(
  deps: OpsDeps,
  refusal: {
    ns: string;
    cluster: Cluster;
    shard: number;
    master: ClusterNode;
    reason: string;
    failures: number | null;
  },
  options: { fence?: Fence } = {},
): Promise<void> {
  await recordHistory(
    deps.store,
    refusal.ns,
    refusal.cluster.name,
    {
      kind: "failover",
      at: deps.now(),
      shard: refusal.shard,
      old_master_id: refusal.master.id,
      old_master_addr: refusal.master.addr,
      new_master_id: "",
      new_master_addr: "",
      reason: refusal.reason,
      outcome: "refused",
      failures: refusal.failures,
      duration_ms: 0,
      version: refusal.cluster.version,
    },
    options,
  );
}
