// Shard, node and slot changes: compute, compare-and-swap, then push.
import { errorMessage, invalid } from "../errors.js";
import { withNode } from "../kvrocks/index.js";
import type { Cluster, ClusterNode, NodeRole } from "../model/index.js";
import { masterOf } from "../model/index.js";
import type { SlotRange } from "../slots/index.js";
import type { Fence } from "../store/index.js";
import { type PushResult, pushTopology } from "../topology/index.js";
import {
  shardOwning,
  withMigrationCleared,
  withMigrationStarted,
  withNodeAdded,
  withNodeRemoved,
  withRangeMoved,
  withShardAdded,
  withShardRemoved,
} from "./compute.js";
import type { OpsDeps } from "./deps.js";

export interface Changed<T = undefined> {
  cluster: Cluster;
  push: PushResult[];
  result: T;
}

/** The shape of every topology change: CAS the computed cluster, then push it to the nodes. */
export async function changeTopology<T>(
  deps: OpsDeps,
  ns: string,
  name: string,
  compute: (cluster: Cluster) => { cluster: Cluster; result: T },
  options: { fence?: Fence } = {},
): Promise<Changed<T>> {
  let result: T | undefined;
  const updated = await deps.store.updateCluster(
    ns,
    name,
    (current) => {
      const next = compute(current);
      result = next.result;
      return next.cluster;
    },
    { fence: options.fence },
  );
  const push = await pushTopology(updated.cluster, { timeoutMs: deps.nodeTimeoutMs });
  return { cluster: updated.cluster, push, result: result as T };
}

export function addShard(
  deps: OpsDeps,
  ns: string,
  name: string,
  input: { nodes: string[]; password: string },
) {
  return changeTopology(deps, ns, name, (c) => ({
    cluster: withShardAdded(c, input.nodes, input.password, deps.now()),
    result: undefined,
  }));
}

export function removeShard(deps: OpsDeps, ns: string, name: string, index: number) {
  return changeTopology(deps, ns, name, (c) => ({
    cluster: withShardRemoved(c, index),
    result: undefined,
  }));
}

export function addNode(
  deps: OpsDeps,
  ns: string,
  name: string,
  index: number,
  input: { addr: string; role: NodeRole; password: string },
): Promise<Changed<ClusterNode>> {
  return changeTopology(deps, ns, name, (c) => {
    const { cluster, node } = withNodeAdded(c, index, input, deps.now());
    return { cluster, result: node };
  });
}

export function removeNode(deps: OpsDeps, ns: string, name: string, index: number, nodeId: string) {
  return changeTopology(deps, ns, name, (c) => ({
    cluster: withNodeRemoved(c, index, nodeId),
    result: undefined,
  }));
}

export function moveSlotsOnly(
  deps: OpsDeps,
  ns: string,
  name: string,
  range: SlotRange,
  target: number,
) {
  return changeTopology(deps, ns, name, (c) => ({
    cluster: withRangeMoved(c, range, target),
    result: undefined,
  }));
}

/**
 * Starts a data migration: record it (so no second one starts on the shard), then ask the
 * source master. If the node refuses, the record is cleared again.
 */
export async function startDataMigration(
  deps: OpsDeps,
  ns: string,
  name: string,
  range: SlotRange,
  target: number,
  options: { fence?: Fence } = {},
): Promise<Cluster> {
  const recorded = await deps.store.updateCluster(
    ns,
    name,
    (c) => withMigrationStarted(c, range, target),
    options,
  );
  const cluster = recorded.cluster;
  const source = shardOwning(cluster, range);
  const sourceMaster = masterOf(cluster.shards[source]!)!;
  const targetMaster = masterOf(cluster.shards[target]!)!;
  try {
    await withNode(
      sourceMaster.addr,
      { password: sourceMaster.password, timeoutMs: deps.nodeTimeoutMs },
      (client) => client.migrate(range, targetMaster.id),
    );
  } catch (err) {
    await deps.store.updateCluster(ns, name, (c) => withMigrationCleared(c, source), options);
    throw invalid(
      `source master ${sourceMaster.addr} refused the migration: ${errorMessage(err)}`,
      "slot",
    );
  }
  return cluster;
}

export async function syncCluster(
  deps: OpsDeps,
  ns: string,
  name: string,
  force: boolean,
): Promise<PushResult[]> {
  const { cluster } = await deps.store.getCluster(ns, name);
  return pushTopology(cluster, { timeoutMs: deps.nodeTimeoutMs, force });
}
