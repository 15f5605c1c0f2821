// Shard, node and slot changes: compute, compare-and-swap, then push.

import { notFound } from "../errors.js";
import { withNode } from "../kvrocks/index.js";
import type { Cluster, ClusterNode, NodeRole } from "../model/index.js";
import { allNodes, masterOf } from "../model/index.js";
import type { SlotRange } from "../slots/index.js";
import type { Fence } from "../store/index.js";
import type { PushResult } from "../topology/index.js";
import {
  recordsMigration,
  shardAt,
  shardOwning,
  withMigrationCleared,
  withMigrationStarted,
  withNodeAdded,
  withNodeRemoved,
  withRangesMoved,
  withShardAdded,
  withShardRemoved,
} from "./compute.js";
import type { OpsDeps } from "./deps.js";
import { pushCluster } from "./push.js";
import { assertNoActiveTasks } from "./tasks.js";
import { assertKvrocksVersions } from "./versions.js";

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
  const push = await pushCluster(deps, ns, updated.cluster);
  return { cluster: updated.cluster, push, result: result as T };
}

export async function addShard(
  deps: OpsDeps,
  ns: string,
  name: string,
  input: { nodes: string[]; password: string; skipVersionCheck?: boolean },
) {
  // Nodes may be added before they are started: only a node that answers is judged.
  if (!input.skipVersionCheck) {
    await assertKvrocksVersions(input.nodes, input.password, {
      timeoutMs: deps.nodeTimeoutMs,
      allowUnreachable: true,
    });
  }
  return changeTopology(deps, ns, name, (c) => ({
    cluster: withShardAdded(c, input.nodes, input.password, deps.now()),
    result: undefined,
  }));
}

export async function removeShard(deps: OpsDeps, ns: string, name: string, index: number) {
  // Removing renumbers the shards after it, and tasks record shards by index.
  await assertNoActiveTasks(deps.store, ns, name, `remove shard ${index}`);
  return changeTopology(deps, ns, name, (c) => ({
    cluster: withShardRemoved(c, index),
    result: undefined,
  }));
}

export async function addNode(
  deps: OpsDeps,
  ns: string,
  name: string,
  index: number,
  input: { addr: string; role: NodeRole; password: string; skipVersionCheck?: boolean },
): Promise<Changed<ClusterNode>> {
  if (!input.skipVersionCheck) {
    await assertKvrocksVersions([input.addr], input.password, {
      timeoutMs: deps.nodeTimeoutMs,
      allowUnreachable: true,
      field: "addr",
    });
  }
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

/** Slot-only move of one range or several (one source shard): one CAS, version +1 once. */
export function moveSlotsOnly(
  deps: OpsDeps,
  ns: string,
  name: string,
  ranges: SlotRange | readonly SlotRange[],
  target: number,
) {
  const list = Array.isArray(ranges) ? ranges : [ranges as SlotRange];
  return changeTopology(deps, ns, name, (c) => ({
    cluster: withRangesMoved(c, list, target),
    result: undefined,
  }));
}

/**
 * Records that the owner of `range` migrates it to `target` (no version change). Done before
 * MIGRATE is sent, so a crash in between leaves a record the next probe round resumes.
 */
export async function recordMigration(
  deps: OpsDeps,
  ns: string,
  name: string,
  range: SlotRange,
  target: number,
  options: { fence?: Fence } = {},
): Promise<Cluster> {
  const { cluster } = await deps.store.getCluster(ns, name);
  if (recordsMigration(cluster, shardOwning(cluster, range), range, target)) return cluster;
  const recorded = await deps.store.updateCluster(
    ns,
    name,
    (c) => withMigrationStarted(c, range, target),
    options,
  );
  return recorded.cluster;
}

/** Clears shard `source`'s migration record if it still is `range` to `target`. */
export async function clearMigration(
  deps: OpsDeps,
  ns: string,
  name: string,
  source: number,
  range: SlotRange,
  target: number,
  options: { fence?: Fence } = {},
): Promise<void> {
  const { cluster } = await deps.store.getCluster(ns, name);
  if (!recordsMigration(cluster, source, range, target)) return;
  await deps.store.updateCluster(
    ns,
    name,
    (c) => (recordsMigration(c, source, range, target) ? withMigrationCleared(c, source) : c),
    options,
  );
}

/** `CLUSTERX MIGRATE <range> <target master id>` on the source master; throws the node's error. */
export async function sendMigrate(
  deps: OpsDeps,
  cluster: Cluster,
  source: number,
  range: SlotRange,
  target: number,
): Promise<void> {
  const sourceMaster = masterOf(shardAt(cluster, source))!;
  const targetMaster = masterOf(shardAt(cluster, target))!;
  await withNode(
    sourceMaster.addr,
    { password: sourceMaster.password, timeoutMs: deps.nodeTimeoutMs },
    (client) => client.migrate(range, targetMaster.id),
  );
}

export async function syncCluster(
  deps: OpsDeps,
  ns: string,
  name: string,
  force: boolean,
): Promise<PushResult[]> {
  const { cluster } = await deps.store.getCluster(ns, name);
  return pushCluster(deps, ns, cluster, { force });
}

/** Pushes the stored topology to one node of the cluster, named by address or id. */
export async function syncNode(
  deps: OpsDeps,
  ns: string,
  name: string,
  node: string,
  force: boolean,
): Promise<PushResult[]> {
  const { cluster } = await deps.store.getCluster(ns, name);
  const found = allNodes(cluster).find((n) => n.addr === node || n.id === node);
  if (!found) throw notFound(`node ${node} is not in cluster ${ns}/${name}`);
  return pushCluster(deps, ns, cluster, { force, only: new Set([found.id]) });
}
