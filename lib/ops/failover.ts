// The one failover, used by the manual route and by the probe: promote the shard's best replica.
import { conflict, errorMessage, KvcError, notFound } from "../errors.js";
import { type ReplicationInfo, withNode } from "../kvrocks/index.js";
import { type Cluster, type ClusterNode, masterOf } from "../model/index.js";
import type { Fence } from "../store/index.js";
import { type PushResult, pushTopology } from "../topology/index.js";
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

/** The rules, pure: answers, is a slave, not in full sync, and has data if anyone has. */
export function rankCandidates(
  reports: readonly Omit<CandidateReport, "ineligible">[],
): CandidateReport[] {
  const anyoneHasData = reports.some(
    (r) => r.info && r.info.role === "slave" && r.info.sequence > 0,
  );
  return reports.map((r) => {
    let ineligible: string | null = null;
    if (!r.info) ineligible = `does not answer (${r.error ?? "no reply"})`;
    else if (r.info.role !== "slave") ineligible = `reports role:${r.info.role}`;
    else if (r.info.syncInProgress) ineligible = "is in a full sync (master_sync_in_progress:1)";
    else if (anyoneHasData && r.info.sequence === 0)
      ineligible = "has no data while another replica has";
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

export async function surveyReplicas(
  replicas: readonly ClusterNode[],
  timeoutMs: number,
): Promise<CandidateReport[]> {
  const reports = await Promise.all(
    replicas.map(async (node) => {
      try {
        const info = await withNode(node.addr, { password: node.password, timeoutMs }, (c) =>
          c.replicationInfo(),
        );
        return { id: node.id, addr: node.addr, info, error: null };
      } catch (err) {
        return { id: node.id, addr: node.addr, info: null, error: errorMessage(err) };
      }
    }),
  );
  return rankCandidates(reports);
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
}

export interface FailoverResult {
  oldMasterId: string;
  newMasterId: string;
  cluster: Cluster;
  candidates: CandidateReport[];
  push: PushResult[];
  durationMs: number;
}

export class NoCandidateError extends KvcError {
  constructor(
    message: string,
    readonly candidates: CandidateReport[],
  ) {
    super("invalid", message, "preferred_node_id");
  }
}

export async function failoverShard(
  deps: OpsDeps,
  request: FailoverRequest,
  options: { fence?: Fence } = {},
): Promise<FailoverResult> {
  const started = deps.now();
  const { cluster } = await deps.store.getCluster(request.ns, request.cluster);
  const shard = shardAt(cluster, request.shard);
  const master = masterOf(shard);
  if (!master) throw conflict(`shard ${request.shard} has no master`);
  if (request.expectedMasterId && master.id !== request.expectedMasterId) {
    throw conflict(`shard ${request.shard} master changed since it was probed`);
  }
  if (request.preferredNodeId && !shard.nodes.some((n) => n.id === request.preferredNodeId)) {
    throw notFound(`node ${request.preferredNodeId} not found in shard ${request.shard}`);
  }
  const replicas = shard.nodes.filter((n) => n.role === "slave");
  const candidates = await surveyReplicas(replicas, deps.nodeTimeoutMs);

  let chosen: CandidateReport | null;
  if (request.preferredNodeId) {
    chosen = candidates.find((c) => c.id === request.preferredNodeId) ?? null;
    if (chosen?.ineligible) {
      // An operator who names a node wants that node; promoting another would surprise them.
      throw new NoCandidateError(`preferred node ${chosen.id} ${chosen.ineligible}`, candidates);
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
  // Through the shared commit: a migration of this shard the nodes completed is folded into
  // the failover's topology, so the new master never takes back a range the target serves.
  const updated = await updateTopology(
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
        throw conflict(`node ${newMasterId} was removed from shard ${request.shard} concurrently`);
      }
      return withMasterChanged(current, request.shard, newMasterId);
    },
    { fence: options.fence },
  );
  const push = await pushTopology(updated.cluster, { timeoutMs: deps.nodeTimeoutMs });
  const durationMs = deps.now() - started;
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
        failures: request.failures ?? null,
        duration_ms: durationMs,
        version: updated.cluster.version,
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
  };
}
