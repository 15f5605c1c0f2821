// The one failover, used by the manual route and by the probe: promote the shard's best replica.
import { setTimeout as delay } from "node:timers/promises";
import { conflict, errorMessage, invalid, KvcError, notFound } from "../errors.js";
import { isNodeError, type NodePool, type ReplicationInfo, withNode } from "../kvrocks/index.js";
import {
  allNodes,
  type Cluster,
  type ClusterNode,
  canonicalAddr,
  isDrained,
  masterOf,
  ProbeState,
} from "../model/index.js";
import type { Fence } from "../store/index.js";
import { type PushResult, pushTopology, pushTopologyToNode } from "../topology/index.js";
import { shardAt, withMasterChanged } from "./compute.js";
import { DEFAULT_SWITCHOVER_CATCHUP_MS, type OpsDeps, switchoverBoundMs } from "./deps.js";
import { recordHistory } from "./history.js";
import { logPushFailures } from "./push.js";
import { updateTopology } from "./topology-changes.js";

export interface CandidateReport {
  id: string;
  addr: string;
  info: ReplicationInfo | null;
  /** The topology version the node holds (`CLUSTERX VERSION`); null when unread. */
  version: number | null;
  error: string | null;
  /** Why the node cannot be promoted; null when it can. */
  ineligible: string | null;
  /** The node's zone, when it has one: breaks ties between equally safe candidates. */
  zone?: string;
}

/**
 * What is known of where the shard's data is beyond the replicas' own answers: from the probe
 * state (the master may be dead) and, when it answers, the master itself.
 */
export interface DataKnowledge {
  /** The master held data (`sequence` > 0) when last seen. */
  masterHadData: boolean;
  /**
   * The master's `sequence` was read at least once (by a probe round, or live now): whether
   * it held data is known. False: it died unseen, and may have held anything.
   */
  masterSeen: boolean;
  /** Replica ids seen following their master (link up): they hold what it had then. */
  linked?: readonly string[];
  /**
   * Node id -> a topology version it was seen holding: by the probe (any shard's node, and
   * what it recorded as `ahead` of etcd), or now. A new version must go above all of them.
   */
  versions?: Record<string, number>;
  /** Replica id -> why it lacks writes the master took (its link was down meanwhile). */
  stale: Record<string, string>;
  /** Replica id -> the master's sequence when its link was first seen down: it must hold that. */
  holds?: Record<string, number>;
}

/** The reasons `force` waives: the node answers and could serve, but lacks data. */
export const DATA_RULE = /has no data|missed writes|never saw its master/;

export const NOTHING_KNOWN: DataKnowledge = { masterHadData: false, masterSeen: false, stale: {} };

/** The knowledge about one shard's master from the probe state's data fields. */
export function dataKnowledgeFrom(
  state: Pick<
    ProbeState,
    "masters_with_data" | "replica_lag" | "masters_seen" | "replicas_linked" | "ahead" | "nodes"
  >,
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
  const masterHadData = state.masters_with_data.includes(masterId);
  const versions: Record<string, number> = { ...state.ahead };
  for (const [id, health] of Object.entries(state.nodes))
    if (health.version !== null) versions[id] = Math.max(versions[id] ?? -1, health.version);
  return {
    masterHadData,
    // A master recorded with data was seen (a state written before `masters_seen` existed
    // says so only this way).
    masterSeen: masterHadData || state.masters_seen.includes(masterId),
    linked: state.replicas_linked,
    stale,
    holds,
    versions,
  };
}

/**
 * The rules, pure: answers, is a slave, not in full sync, and holds the shard's data: not
 * empty while the master or another replica had data, not behind writes it missed. When no
 * round ever read the master (the probe was not running while clients wrote, say), nothing
 * says what it held: an empty replica, or one never seen following it, is not promoted on
 * that guess. A master seen empty (a new cluster) is known to have held nothing: its empty
 * replica is promoted as usual. `forced` (an operator naming the node) waives the data rules
 * for that node only.
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
    else if (!knowledge.masterSeen && r.info.sequence === 0)
      ineligible =
        "has no data (sequence 0) and the probe never saw its master: what the master held is unknown";
    else if (!knowledge.masterSeen && !knowledge.linked?.includes(r.id))
      ineligible =
        "has its link to its master never seen up, and the probe never saw its master: it may lack the master's writes";
    else if (knowledge.stale[r.id]) ineligible = knowledge.stale[r.id] ?? null;
    else if (r.info.sequence < (knowledge.holds?.[r.id] ?? 0))
      ineligible = `missed writes: at sequence ${r.info.sequence}, while its master had reached ${knowledge.holds?.[r.id]} when its link was seen down`;
    return { ...r, ineligible };
  });
}

/**
 * How well promoting `c` keeps the shard spread over zones, lower is better: first whether it
 * sits in the failing master's zone (a zone that lost its master may be failing whole), then
 * how many of the shard's other answering nodes share its zone (a zone whose loss would take
 * the new master and a replica together). 0 for every candidate when zones are not known.
 */
function zoneRank(
  c: CandidateReport,
  candidates: readonly CandidateReport[],
  masterZone: string | undefined,
): [number, number] {
  if (c.zone === undefined) return [masterZone === undefined ? 0 : 1, 0];
  const sameAsMaster = masterZone !== undefined && c.zone === masterZone ? 1 : 0;
  const sharing = candidates.filter((o) => o.id !== c.id && o.info && o.zone === c.zone).length;
  return [sameAsMaster, sharing];
}

/**
 * The highest sequence, ties broken by replication offset: the replica holding the most of
 * the shard's data. Only among candidates equal on both (equally safe: they hold the same
 * data) does the zone decide (`zoneRank`); a zone never outweighs a byte of data.
 */
export function pickNewMaster(
  candidates: readonly CandidateReport[],
  masterZone?: string,
): CandidateReport | null {
  const eligible = candidates.filter((c) => c.ineligible === null && c.info);
  const zone = new Map(eligible.map((c) => [c.id, zoneRank(c, candidates, masterZone)]));
  eligible.sort(
    (a, b) =>
      (b.info?.sequence ?? 0) - (a.info?.sequence ?? 0) ||
      (b.info?.slaveReplOffset ?? 0) - (a.info?.slaveReplOffset ?? 0) ||
      zone.get(a.id)![0] - zone.get(b.id)![0] ||
      zone.get(a.id)![1] - zone.get(b.id)![1],
  );
  return eligible[0] ?? null;
}

const zoneOf = (node: ClusterNode) => (node.zone === undefined ? {} : { zone: node.zone });

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
        const [info, version] = await use(node.addr, { password: node.password, timeoutMs }, (c) =>
          Promise.all([c.replicationInfo(), c.version().catch(() => null)]),
        );
        return { id: node.id, addr: node.addr, info, version, error: null, ...zoneOf(node) };
      } catch (err) {
        return {
          id: node.id,
          addr: node.addr,
          info: null,
          version: null,
          error: errorMessage(err),
          ...zoneOf(node),
        };
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

/** How the master answers a manual failover's own look at it. */
export type MasterState =
  /** Answers as master: it takes writes, so the switch is planned (catch-up first). */
  | { kind: "master"; sequence: number; version: number | null }
  /** Answers, but not as master: it takes no writes. */
  | { kind: "not_master" }
  /** Refuses connections (nothing listens: the process is gone), or the probe judged it down. */
  | { kind: "dead" }
  /** Neither: timed out, reset, an error reply. It may be alive and taking writes. */
  | { kind: "unknown"; why: string };

/**
 * A manual failover's look at the master, longer than a probe's: each try waits this many
 * node timeouts, and a try that does not answer is repeated once. A master slowed for a few
 * seconds (a long command, a stall, a loaded host) then answers and is switched over with
 * its catch-up, instead of being taken for dead while it still takes writes.
 */
export const LIVENESS_TIMEOUT_FACTOR = 3;

export async function masterState(master: ClusterNode, timeoutMs: number): Promise<MasterState> {
  let why = "no answer";
  for (let attempt = 0; attempt < 2; attempt++) {
    if (attempt > 0) await delay(100);
    try {
      const [info, version] = await withNode(
        master.addr,
        { password: master.password, timeoutMs: LIVENESS_TIMEOUT_FACTOR * timeoutMs },
        (c) => Promise.all([c.replicationInfo(), c.version().catch(() => null)]),
      );
      return info.role === "master"
        ? { kind: "master", sequence: info.sequence, version }
        : { kind: "not_master" };
    } catch (err) {
      why = errorMessage(err);
      // Refused on the last try: nothing listens, so nothing takes writes there.
      const refused =
        isNodeError(err) && err.failure === "unreachable" && /ECONNREFUSED/.test(err.message);
      if (refused && attempt === 1) return { kind: "dead" };
    }
  }
  return { kind: "unknown", why };
}

/**
 * For a request that brings no knowledge (manual): what the probe state remembers, and how
 * the master answers now (its `sequence` when it answers as master). The probe's request
 * brings its knowledge and a master it judged down. An unreadable probe state knows nothing.
 */
async function knowledgeOf(
  deps: OpsDeps,
  request: FailoverRequest,
  master: ClusterNode,
): Promise<{ knowledge: DataKnowledge; master: MasterState }> {
  if (request.knowledge) return { knowledge: request.knowledge, master: { kind: "dead" } };
  const [read, state] = await Promise.all([
    deps.store.getDocOrCorrupt(deps.store.keys.probeState(request.ns, request.cluster), ProbeState),
    masterState(master, deps.nodeTimeoutMs),
  ]);
  const known = read.doc ? dataKnowledgeFrom(read.doc.value, master.id) : NOTHING_KNOWN;
  if (state.kind !== "master") return { knowledge: known, master: state };
  const versions = { ...known.versions };
  if (state.version !== null) versions[master.id] = state.version;
  return {
    knowledge: {
      ...known,
      masterSeen: true,
      masterHadData: known.masterHadData || state.sequence > 0,
      versions,
    },
    master: state,
  };
}

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
 * when the shard changed since the switch (failed over again, the old master removed): that
 * later change stands, and the switchover with it. A later change elsewhere (a probe's
 * failover of another shard, built on the switch, which leaves this shard's nodes to the
 * switchover: see `pushPromotion`) is kept, and the switch is still undone on top of it: else
 * the switchover went on and promoted a new master that had not caught up, losing the writes
 * it lacked.
 */
async function restorePreviousMaster(
  deps: OpsDeps,
  request: FailoverRequest,
  switched: Cluster,
  oldMasterId: string,
): Promise<boolean> {
  const moved = new Error("moved on");
  const newMasterId = masterOf(shardAt(switched, request.shard))?.id;
  let restored: Awaited<ReturnType<typeof updateTopology>>;
  try {
    // Through the shared commit: a move the nodes completed meanwhile is folded in, not undone.
    restored = await updateTopology(deps, request.ns, request.cluster, (current) => {
      const shard = current.shards[request.shard];
      if (
        !shard ||
        masterOf(shard)?.id !== newMasterId ||
        !shard.nodes.some((n) => n.id === oldMasterId)
      )
        throw moved;
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
  /** Never promote a drained replica (a drain); otherwise one is promoted only as the last choice. */
  undrainedOnly?: boolean;
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

/**
 * The highest version seen on the shard's nodes: the replicas' answers to the survey, the
 * master's when it answered, and what the probe saw nodes claim above etcd.
 */
function highestSeenVersion(
  candidates: readonly CandidateReport[],
  knowledge: DataKnowledge,
): number {
  return Math.max(
    -1,
    ...candidates.map((c) => c.version ?? -1),
    ...Object.values(knowledge.versions ?? {}),
  );
}

/**
 * Etcd's next version, or one above every version seen on a node when that is higher (as
 * `sync force` does): after an etcd restore, or a cluster re-created over its nodes, the
 * nodes hold versions etcd never had and refuse an older SETNODES, so a failover at etcd's
 * +1 would leave the shard without a master while etcd says it has one. Only ever raised,
 * by the same compare-and-swap: a crash after it leaves a version every node accepts.
 */
function versionAbove(cluster: Cluster, seen: number): Cluster {
  return seen >= cluster.version ? { ...cluster, version: seen + 1 } : cluster;
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
  /**
   * Nodes the push must not reach (the probe's `keepAway`: a master that came back empty with
   * no replica to promote, or whose data cannot be told): made master of its shard by any push,
   * its replicas would full-sync the emptiness. Read when the push starts.
   */
  keepAway?: ReadonlySet<string>;
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
  const { knowledge, master: masterNow } = await knowledgeOf(deps, request, master);
  if (masterNow.kind === "unknown" && !request.force) {
    // Taken for dead, it would be failed over without a catch-up while it may still take
    // writes: those, and what its replicas had not received yet, would be lost.
    throw conflict(
      `cannot tell whether master ${master.addr} is alive (${masterNow.why}): a failover now would lose the writes it may still take; retry once it answers or is down, or name the replica with preferred_node_id and force`,
    );
  }
  const reports = await surveyNodes(replicas, deps.nodeTimeoutMs, deps.nodePool);
  const candidates = rankCandidates(
    reports,
    masterNow.kind === "master" ? withoutPastOutages(knowledge, reports, master) : knowledge,
    request.force ? request.preferredNodeId : undefined,
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
    // A drained replica is about to be stopped for maintenance: the last choice, never a
    // drain's (it would be switched over again, or stopped as master).
    const drained = new Set(replicas.filter(isDrained).map((n) => n.id));
    chosen =
      pickNewMaster(
        candidates.filter((c) => !drained.has(c.id)),
        master.zone,
      ) ?? (request.undrainedOnly ? null : pickNewMaster(candidates, master.zone));
    if (!chosen && request.undrainedOnly)
      for (const c of candidates) if (drained.has(c.id)) c.ineligible ??= "is drained";
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
  const planned = masterNow.kind === "master" && !request.expectedMasterId;
  const marker = planned ? await beginSwitchover(deps, request) : null;
  try {
    return await commitFailover(
      deps,
      request,
      options,
      { master, newMasterId, candidates, above: highestSeenVersion(candidates, knowledge) },
      { started, read, surveyed },
      planned,
    );
  } finally {
    await marker?.release().catch(() => {});
  }
}

/**
 * For a planned switchover (the master answers as master): a replica whose link to it is up
 * now is no longer held to the probe's record of an earlier outage (`stale`, `holds`). That
 * record outlives the outage until a probe round sees the link up again (an undrained replica
 * just back from maintenance), yet the switchover does not rely on it: the new master must
 * reach the old master's final sequence before any other node is told, or it is undone.
 */
function withoutPastOutages(
  knowledge: DataKnowledge,
  reports: readonly Omit<CandidateReport, "ineligible">[],
  master: ClusterNode,
): DataKnowledge {
  const linked = reports.filter(
    (r) =>
      r.info?.role === "slave" &&
      r.info.masterLinkUp &&
      !r.info.syncInProgress &&
      r.info.masterHost !== null &&
      canonicalAddr(`${r.info.masterHost}:${r.info.masterPort}`) === canonicalAddr(master.addr),
  );
  if (linked.length === 0) return knowledge;
  const stale = { ...knowledge.stale };
  const holds = { ...knowledge.holds };
  for (const r of linked) {
    delete stale[r.id];
    delete holds[r.id];
  }
  return { ...knowledge, stale, holds };
}

async function beginSwitchover(deps: OpsDeps, request: FailoverRequest) {
  // Past this a dead controller's marker expires and the probe repairs the nodes as usual.
  const ttlSeconds = Math.ceil(switchoverBoundMs(deps) / 1000) + 1;
  const marker = await deps.store.beginSwitchover(request.ns, request.cluster, ttlSeconds);
  if (!marker) throw conflict(`a switchover of cluster ${request.cluster} is already under way`);
  return marker;
}

async function commitFailover(
  deps: OpsDeps,
  request: FailoverRequest,
  options: FailoverOptions,
  plan: {
    master: ClusterNode;
    newMasterId: string;
    candidates: CandidateReport[];
    /** The highest topology version seen on a node; the new version goes above it. */
    above: number;
  },
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
        if (
          request.undrainedOnly &&
          shardNow.nodes.some((n) => n.id === newMasterId && isDrained(n))
        )
          throw conflict(`node ${newMasterId} was drained concurrently`);
        return versionAbove(withMasterChanged(current, request.shard, newMasterId), plan.above);
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
      : await pushPromotion(
          deps,
          request.ns,
          updated.cluster,
          new Map([[newMasterId, heard]]),
          heard,
          options.keepAway,
        );
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
 *
 * While a planned switchover of another shard is under way (its marker, read after this
 * commit), only the new masters are pushed: `cluster` may be built on the switchover's commit,
 * and pushed to its shard it would promote the switchover's new master before that one caught
 * up, after which the switchover can no longer be undone (the version moved on) and the
 * writes it lacked are lost. The marker exists from before the switchover's commit until its
 * push is done, so a commit it made before ours is seen here; one made after ours is pushed by
 * the switchover itself, above ours. The nodes skipped are repaired by the next round after
 * the switchover (an unreadable marker counts as under way: the repair is the cheaper error).
 */
async function pushPromotion(
  deps: OpsDeps,
  ns: string,
  cluster: Cluster,
  newMasters: ReadonlyMap<string, (which: "new_master") => void>,
  others: (which: "others") => void,
  keepAway: ReadonlySet<string> = new Set(),
): Promise<PushResult[]> {
  const switching = deps.store.switchoverUnderWay(ns, cluster.name).catch(() => true);
  const everyOther = new Set(
    allNodes(cluster)
      .filter((n) => !newMasters.has(n.id) && !keepAway.has(n.id))
      .map((n) => n.id),
  );
  // The new masters are not held for the marker's read: it runs alongside their push.
  const rest = switching.then((under) => (under ? new Set<string>() : everyOther));
  const [promoted, pushed] = await Promise.all([
    Promise.all(
      [...newMasters].map(([id, done]) =>
        pushTopology(cluster, {
          timeoutMs: deps.nodeTimeoutMs + PROMOTION_GRACE_MS,
          only: new Set([id]),
        }).finally(() => done("new_master")),
      ),
    ),
    rest
      .then((only) =>
        only.size === 0 ? [] : pushTopology(cluster, { timeoutMs: deps.nodeTimeoutMs, only }),
      )
      .finally(() => others("others")),
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
    private readonly ns: string,
    seats: number,
    /** Nodes no push of the batch reaches (see `FailoverOptions.keepAway`). */
    private readonly keepAway: ReadonlySet<string> = new Set(),
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
      this.ns,
      last.cluster,
      new Map(this.joined.map((j) => [j.newMasterId, j.heard])),
      () => {
        for (const j of this.joined) j.heard("others");
      },
      this.keepAway,
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
