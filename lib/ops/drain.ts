// Drain and undrain: a node taken out of service for maintenance (a rolling upgrade, a host
// reboot) without the probe failing it over. A drained master is first switched over to a
// replica by the planned, zero-loss switchover; the mark itself is a compare-and-swap of the
// cluster document that leaves the topology (and its version) alone.
import { setTimeout as delay } from "node:timers/promises";
import { conflict, errorMessage, invalid, notFound } from "../errors.js";
import { type ReplicationInfo, withNode } from "../kvrocks/index.js";
import {
  type Cluster,
  type ClusterNode,
  canonicalAddr,
  isDrained,
  masterOf,
} from "../model/index.js";
import { pushTopologyToNode } from "../topology/index.js";
import type { OpsDeps } from "./deps.js";
import { failoverShard, NoCandidateError } from "./failover.js";

export interface NodePlace {
  shard: number;
  node: ClusterNode;
}

/** The node with this id, or 404 naming it. */
export function locateNode(cluster: Cluster, nodeId: string): NodePlace {
  for (const [shard, s] of cluster.shards.entries()) {
    const node = s.nodes.find((n) => n.id === nodeId);
    if (node) return { shard, node };
  }
  throw notFound(`node ${nodeId} not found in cluster ${cluster.name}`);
}

/**
 * A shard keeps at least one node in service, and its master is never drained: else a
 * maintenance that stops the drained nodes would stop the shard, and the probe, told to leave
 * drained nodes alone, would not fail it over.
 */
function assertMayDrain(cluster: Cluster, place: NodePlace): void {
  const shard = cluster.shards[place.shard]!;
  const others = shard.nodes.filter((n) => n.id !== place.node.id);
  if (others.length === 0)
    throw conflict(
      `node ${place.node.addr} is the only node of shard ${place.shard}: drained, the shard would have no node to serve it (add a replica first)`,
    );
  if (others.every(isDrained))
    throw conflict(
      `every other node of shard ${place.shard} is drained (${others.map((n) => n.addr).join(", ")}): undrain one first, or the shard would have no node in service`,
    );
}

export interface DrainRequest {
  ns: string;
  cluster: string;
  nodeId: string;
  /**
   * A master with no replica that may be promoted safely: promote the undrained replica with
   * the most data anyway (its catch-up still runs while the master answers).
   */
  force?: boolean;
}

export interface DrainResult {
  cluster: Cluster;
  shard: number;
  /** The replica a master was switched over to; null for a replica. */
  newMasterId: string | null;
}

/**
 * Switchover first (a master), then the mark. Crash-safe in that order: a crash after the
 * switchover leaves a replica that is not drained yet, which a repeated drain marks; the
 * reverse order could leave a drained master the probe would never fail over.
 */
export async function drainNode(deps: OpsDeps, request: DrainRequest): Promise<DrainResult> {
  const { ns, cluster: name, nodeId } = request;
  const { cluster } = await deps.store.getCluster(ns, name);
  const place = locateNode(cluster, nodeId);
  assertMayDrain(cluster, place);
  let newMasterId: string | null = null;
  if (place.node.role === "master") newMasterId = await switchAway(deps, request, place.shard);
  const updated = await deps.store.updateCluster(ns, name, (current) => {
    const now = locateNode(current, nodeId);
    // A failover or switchover back since ours: the node serves again; drained it would be
    // a master the probe leaves alone.
    if (now.node.role === "master")
      throw conflict(
        `node ${now.node.addr} became master of shard ${now.shard} again while it was drained; repeat the drain`,
      );
    assertMayDrain(current, now);
    if (isDrained(now.node)) return current;
    return withNodeChanged(current, nodeId, (n) => ({ ...n, drained_at: deps.now() }));
  });
  deps.log
    .child({ namespace: ns, cluster: name, shard: place.shard })
    .info({ node: nodeId, addr: place.node.addr, new_master: newMasterId }, "drain: node drained");
  return { cluster: updated.cluster, shard: place.shard, newMasterId };
}

/** The planned switchover of the shard's master to its best undrained replica; 409 if none. */
async function switchAway(deps: OpsDeps, request: DrainRequest, shard: number): Promise<string> {
  const base = {
    ns: request.ns,
    cluster: request.cluster,
    shard,
    reason: "drain",
    undrainedOnly: true,
  };
  try {
    return (await failoverShard(deps, base)).newMasterId;
  } catch (err) {
    if (!(err instanceof NoCandidateError)) throw err;
    const why = `cannot drain master of shard ${shard}: ${err.message}`;
    if (!request.force)
      throw conflict(
        `${why} (repeat with force to promote the undrained replica with the most data)`,
      );
    const { cluster } = await deps.store.getCluster(request.ns, request.cluster);
    const drained = new Set(cluster.shards[shard]?.nodes.filter(isDrained).map((n) => n.id));
    const best = err.candidates
      .filter((c) => c.info?.role === "slave" && !c.info.syncInProgress && !drained.has(c.id))
      .sort((a, b) => (b.info?.sequence ?? 0) - (a.info?.sequence ?? 0))[0];
    if (!best) throw conflict(`${why}; no undrained replica answers, even with force`);
    const result = await failoverShard(deps, {
      ...base,
      preferredNodeId: best.id,
      force: true,
      reason: "drain (forced)",
    });
    return result.newMasterId;
  }
}

function withNodeChanged(
  cluster: Cluster,
  nodeId: string,
  change: (node: ClusterNode) => ClusterNode,
): Cluster {
  return {
    ...cluster,
    shards: cluster.shards.map((s) => ({
      ...s,
      nodes: s.nodes.map((n) => (n.id === nodeId ? change(n) : n)),
    })),
  };
}

export const DEFAULT_UNDRAIN_WAIT_MS = 10_000;
export const DEFAULT_UNDRAIN_MAX_LAG = 10_000;

export interface UndrainRequest {
  ns: string;
  cluster: string;
  nodeId: string;
  /** Make it master again afterwards, by planned switchover. */
  restoreMaster?: boolean;
  /** How long to wait for the node to catch up before answering 409. */
  waitMs?: number;
  /** Caught up: its link up, and its `sequence` at most this far behind its master's. */
  maxLag?: number;
}

export interface UndrainResult {
  cluster: Cluster;
  shard: number;
  /** The node's `sequence` behind its master's when it was found caught up. */
  lag: number;
  restored: boolean;
}

/** Why the replica has not caught up yet, or null with its lag when it has. */
function catchUp(
  replica: ReplicationInfo,
  master: ReplicationInfo,
  masterAddr: string,
  maxLag: number,
): { why: string | null; lag: number } {
  const lag = Math.max(0, master.sequence - replica.sequence);
  if (replica.role !== "slave") return { why: `it answers role:${replica.role}`, lag };
  const following =
    replica.masterHost !== null &&
    canonicalAddr(`${replica.masterHost}:${replica.masterPort}`) === canonicalAddr(masterAddr);
  if (!following)
    return {
      why: `it follows ${replica.masterHost}:${replica.masterPort}, not ${masterAddr}`,
      lag,
    };
  if (replica.syncInProgress) return { why: "it is in a full sync", lag };
  if (!replica.masterLinkUp) return { why: "its link to the master is down", lag };
  if (lag > maxLag) return { why: `it is ${lag} writes behind (bound ${maxLag})`, lag };
  return { why: null, lag };
}

/**
 * Waits (bounded) until the drained replica follows its master closely, then clears the mark
 * by compare-and-swap; with `restoreMaster`, switches it back over. A crash at any point
 * leaves either the mark (a repeated undrain finishes) or an undrained replica (a repeated
 * undrain with restore only switches over).
 */
export async function undrainNode(deps: OpsDeps, request: UndrainRequest): Promise<UndrainResult> {
  const { ns, cluster: name, nodeId } = request;
  const waitMs = request.waitMs ?? DEFAULT_UNDRAIN_WAIT_MS;
  const maxLag = request.maxLag ?? DEFAULT_UNDRAIN_MAX_LAG;
  if (maxLag < 0) throw invalid("max_lag: must not be negative", "max_lag");
  const deadline = Date.now() + waitMs;
  let lag = 0;
  for (let pushed = false; ; ) {
    const { cluster } = await deps.store.getCluster(ns, name);
    const place = locateNode(cluster, nodeId);
    const master = masterOf(cluster.shards[place.shard]!);
    if (!master) throw conflict(`shard ${place.shard} has no master`);
    if (place.node.role === "master") break;
    const options = { password: place.node.password, timeoutMs: deps.nodeTimeoutMs };
    let why: string;
    try {
      const [info, version, masterInfo] = await Promise.all([
        withNode(place.node.addr, options, (c) => c.replicationInfo()),
        withNode(place.node.addr, options, (c) => c.version()),
        withNode(master.addr, { ...options, password: master.password }, (c) =>
          c.replicationInfo(),
        ),
      ]);
      // Back from a restart on an old nodes.conf: it follows once it holds the topology.
      // The probe would repair it within a round; the wait need not last that long.
      if (version < cluster.version && !pushed) {
        pushed = true;
        await pushTopologyToNode(cluster, place.node, { timeoutMs: deps.nodeTimeoutMs });
      }
      const seen = catchUp(info, masterInfo, master.addr, maxLag);
      lag = seen.lag;
      if (seen.why === null) break;
      why = seen.why;
    } catch (err) {
      why = `it does not answer (${errorMessage(err)})`;
    }
    if (Date.now() >= deadline)
      throw conflict(
        `node ${place.node.addr} has not caught up with its master ${master.addr} within ${waitMs} ms: ${why}; it stays drained (retry)`,
      );
    await delay(200);
  }
  const updated = await deps.store.updateCluster(ns, name, (current) => {
    const place = locateNode(current, nodeId);
    if (!isDrained(place.node)) return current;
    const { drained_at: _cleared, ...node } = place.node;
    return withNodeChanged(current, nodeId, () => node);
  });
  const place = locateNode(updated.cluster, nodeId);
  let cluster = updated.cluster;
  let restored = false;
  if (request.restoreMaster && place.node.role !== "master") {
    cluster = (
      await failoverShard(deps, {
        ns,
        cluster: name,
        shard: place.shard,
        preferredNodeId: nodeId,
        reason: "undrain: restore master",
      })
    ).cluster;
    restored = true;
  }
  deps.log
    .child({ namespace: ns, cluster: name, shard: place.shard })
    .info({ node: nodeId, addr: place.node.addr, lag, restored }, "drain: node undrained");
  return { cluster, shard: place.shard, lag, restored };
}
