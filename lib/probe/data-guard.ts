// What the probe remembers about where a shard's data is, pure: which masters held data and
// which replicas missed writes. Failover reads it after the master is gone, when the master
// can no longer be asked. It changes only when something happens (a master's first write, a
// replica's link going down, the master writing past it), so healthy rounds write nothing.
// The master's sequence recorded when a replica is first seen unlinked also bounds what the
// replica must hold to be promoted: writes made before the probe noticed the link down count.
// Which masters were seen at all, and which replicas were seen following one, say whether the
// rest is known: a master that died before any round read it may have held anything.
import {
  type Cluster,
  masterOf,
  type ProbeState,
  type ReplicaLag,
  type Shard,
} from "../model/index.js";
import type { Observation } from "./observe.js";

export type DataGuard = Pick<
  ProbeState,
  "masters_with_data" | "replica_lag" | "masters_seen" | "replicas_linked"
>;

/** The master's `sequence` as it answered this round, or null when it did not answer as master. */
function liveMasterSequence(observation: Observation | undefined): number | null {
  const replication = observation?.alive ? observation.replication : null;
  return replication?.role === "master" ? replication.sequence : null;
}

/**
 * Answers as a replica whose link to its master is up, not in a full sync, and holding at
 * least `caughtUpTo` (what its master had reached while the link was down).
 */
function linkedReplica(observation: Observation | undefined, caughtUpTo: number): boolean {
  const replication = observation?.alive ? observation.replication : null;
  return (
    replication?.role === "slave" &&
    replication.masterLinkUp &&
    !replication.syncInProgress &&
    replication.sequence >= caughtUpTo
  );
}

function nextReplicaLag(
  previous: ReplicaLag | undefined,
  masterSequence: number | null,
): ReplicaLag | undefined {
  // The master cannot be asked (dead): what was known when it could is what holds.
  if (masterSequence === null) return previous;
  if (!previous) return { master_sequence: masterSequence, stale: false };
  if (!previous.stale && masterSequence > previous.master_sequence)
    return { ...previous, stale: true };
  return previous;
}

/**
 * Whether the shard's master is recorded holding data: itself, or a node of its shard that was
 * (the master before a failover or switchover made this one, and no round has seen the new
 * one yet). Data moves with mastership: the candidate rules never promote an empty replica
 * over one holding data, so the new master of a shard that held data holds it too.
 */
export function shardHeldData(shard: Shard, mastersWithData: readonly string[]): boolean {
  return shard.nodes.some((n) => mastersWithData.includes(n.id));
}

export function nextDataGuard(
  previous: DataGuard,
  cluster: Cluster,
  observations: readonly Observation[],
): DataGuard {
  const byId = new Map(observations.map((o) => [o.node.id, o]));
  const wasSeen = new Set(previous.masters_seen);
  const wasLinked = new Set(previous.replicas_linked);
  const masters: string[] = [];
  const seen: string[] = [];
  const linked: string[] = [];
  const lag: Record<string, ReplicaLag> = {};
  for (const shard of cluster.shards) {
    const master = masterOf(shard);
    if (!master) continue;
    const masterSequence = liveMasterSequence(byId.get(master.id));
    if (shardHeldData(shard, previous.masters_with_data) || (masterSequence ?? 0) > 0)
      masters.push(master.id);
    // Kept only while the node stays master (and a replica while it stays one): a node that
    // changes role is judged afresh in its new one.
    if (wasSeen.has(master.id) || masterSequence !== null) seen.push(master.id);
    for (const replica of shard.nodes) {
      if (
        replica.role === "slave" &&
        (wasLinked.has(replica.id) || linkedReplica(byId.get(replica.id), 0))
      )
        linked.push(replica.id);
      const known = previous.replica_lag[replica.id];
      // A replica that relinks keeps its entry until it holds what its master had reached.
      if (
        replica.role !== "slave" ||
        linkedReplica(byId.get(replica.id), known?.master_sequence ?? 0)
      )
        continue;
      const next = nextReplicaLag(known, masterSequence);
      if (next) lag[replica.id] = next;
    }
  }
  return {
    masters_with_data: masters.sort(),
    replica_lag: lag,
    masters_seen: seen.sort(),
    replicas_linked: linked.sort(),
  };
}
