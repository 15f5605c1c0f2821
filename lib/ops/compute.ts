// Pure computations of a new cluster from an old one. No I/O: every entry point and the probe
// share these, and the store validates the invariants of what they return before writing.
import { randomBytes } from "node:crypto";
import { conflict, exists, invalid, notFound } from "../errors.js";
import {
  type Cluster,
  type ClusterNode,
  canonicalAddr,
  masterOf,
  type NodeRole,
  type Shard,
  type ZoneMap,
  zoneIn,
} from "../model/index.js";
import {
  containsRange,
  countSlots,
  evenSplit,
  formatSlotRange,
  mergeRanges,
  rangesOverlap,
  type SlotRange,
  subtractRanges,
} from "../slots/index.js";
import { placeShards } from "./zones.js";

/** Lowercase hex, 40 characters, as Kvrocks node ids are. */
export function newNodeId(): string {
  return randomBytes(20).toString("hex");
}

export function bumpVersion(cluster: Cluster): Cluster {
  return { ...cluster, version: cluster.version + 1 };
}

export function newNode(
  addr: string,
  role: NodeRole,
  password: string,
  now: number,
  zone?: string,
): ClusterNode {
  const node: ClusterNode = {
    id: newNodeId(),
    addr,
    role,
    password,
    created_at: Math.floor(now / 1000),
  };
  // Absent rather than undefined: the stored JSON of a node without a zone stays upstream's.
  if (zone !== undefined) node.zone = zone;
  return node;
}

export interface PlanClusterInput {
  name: string;
  nodes: string[];
  replicas: number;
  password: string;
  /** Zones given beside the addresses (see `placeShards`). */
  zones?: ZoneMap;
}

/**
 * Nodes in order, in chunks of `replicas`; the first of each chunk is the master. With zones,
 * the chunks are dealt so each shard's nodes sit in distinct zones where enough exist.
 */
export function planCluster(input: PlanClusterInput, now: number): Cluster {
  const { nodes, replicas } = input;
  if (nodes.length === 0 || nodes.length % replicas !== 0) {
    throw invalid(
      `${nodes.length} nodes cannot be split into shards of ${replicas} (replicas): the count must divide evenly`,
      "nodes",
    );
  }
  const duplicate = nodes.find((addr, i) => nodes.indexOf(addr) !== i);
  if (duplicate) throw invalid(`node ${duplicate} is listed twice`, "nodes");
  const shardCount = nodes.length / replicas;
  const ranges = evenSplit(shardCount);
  const placed = placeShards(nodes, replicas, input.zones);
  const shards: Shard[] = ranges.map((range, i) => ({
    nodes: placed[i]!.map((addr, j) =>
      newNode(addr, j === 0 ? "master" : "slave", input.password, now, zoneIn(input.zones, addr)),
    ),
    slot_ranges: [range],
    target_shard_index: -1,
    migrating_slot: null,
  }));
  return { name: input.name, version: 1, shards };
}

export function shardAt(cluster: Cluster, index: number): Shard {
  const shard = cluster.shards[index];
  if (!shard) throw notFound(`shard ${index} not found in cluster ${cluster.name}`);
  return shard;
}

function replaceShard(cluster: Cluster, index: number, shard: Shard): Cluster {
  return { ...cluster, shards: cluster.shards.map((s, i) => (i === index ? shard : s)) };
}

function assertAddrsFree(cluster: Cluster, addrs: readonly string[]): void {
  const wanted = new Set(addrs.map(canonicalAddr));
  for (const shard of cluster.shards) {
    for (const node of shard.nodes) {
      if (wanted.has(canonicalAddr(node.addr)))
        throw exists(`node ${node.addr} is already in cluster ${cluster.name}`);
    }
  }
}

export function withShardAdded(
  cluster: Cluster,
  addrs: string[],
  password: string,
  now: number,
  zones?: ZoneMap,
): Cluster {
  if (addrs.length === 0) throw invalid("a shard needs at least one node", "nodes");
  assertAddrsFree(cluster, addrs);
  const shard: Shard = {
    nodes: addrs.map((addr, i) =>
      newNode(addr, i === 0 ? "master" : "slave", password, now, zoneIn(zones, addr)),
    ),
    slot_ranges: [],
    target_shard_index: -1,
    migrating_slot: null,
  };
  return bumpVersion({ ...cluster, shards: [...cluster.shards, shard] });
}

export function withShardRemoved(cluster: Cluster, index: number): Cluster {
  const shard = shardAt(cluster, index);
  if (shard.slot_ranges.length > 0) {
    throw invalid(`shard ${index} still owns slots; migrate them away first`, "shard");
  }
  // Removing a shard renumbers the ones after it, which would break a recorded target index.
  if (cluster.shards.some((s) => s.migrating_slot !== null)) {
    throw invalid(
      `cluster ${cluster.name} has a migration in progress; remove the shard after it ends`,
      "shard",
    );
  }
  return bumpVersion({ ...cluster, shards: cluster.shards.filter((_, i) => i !== index) });
}

export function withNodeAdded(
  cluster: Cluster,
  index: number,
  node: { addr: string; role: NodeRole; password: string; zone?: string | undefined },
  now: number,
): { cluster: Cluster; node: ClusterNode } {
  const shard = shardAt(cluster, index);
  assertAddrsFree(cluster, [node.addr]);
  if (node.role === "master" && masterOf(shard)) {
    throw exists(`shard ${index} already has a master`);
  }
  const added = newNode(node.addr, node.role, node.password, now, node.zone);
  const next = replaceShard(cluster, index, { ...shard, nodes: [...shard.nodes, added] });
  return { cluster: bumpVersion(next), node: added };
}

export function withNodeRemoved(cluster: Cluster, index: number, nodeId: string): Cluster {
  const shard = shardAt(cluster, index);
  const node = shard.nodes.find((n) => n.id === nodeId);
  if (!node) throw notFound(`node ${nodeId} not found in shard ${index}`);
  if (node.role === "master") {
    throw invalid(`node ${nodeId} is the master of shard ${index}; fail over first`, "id");
  }
  return bumpVersion(
    replaceShard(cluster, index, { ...shard, nodes: shard.nodes.filter((n) => n.id !== nodeId) }),
  );
}

/** Makes `newMasterId` the master of the shard; the old master stays as a slave. */
export function withMasterChanged(cluster: Cluster, index: number, newMasterId: string): Cluster {
  const shard = shardAt(cluster, index);
  if (!shard.nodes.some((n) => n.id === newMasterId)) {
    throw notFound(`node ${newMasterId} not found in shard ${index}`);
  }
  const nodes = shard.nodes.map((n) => ({
    ...n,
    role: (n.id === newMasterId ? "master" : "slave") as NodeRole,
  }));
  return bumpVersion(replaceShard(cluster, index, { ...shard, nodes }));
}

/** The shard whose ranges contain every slot of `range`. */
export function shardOwning(cluster: Cluster, range: SlotRange): number {
  const index = cluster.shards.findIndex((s) => containsRange(s.slot_ranges, range));
  if (index === -1) {
    throw invalid(`slot range ${formatSlotRange(range)} does not lie inside one shard`, "slot");
  }
  return index;
}

/** Moves the ownership of `range` to shard `target` (slot-only, or the end of a data move). */
export function withRangeMoved(cluster: Cluster, range: SlotRange, target: number): Cluster {
  shardAt(cluster, target);
  const source = shardOwning(cluster, range);
  if (source === target) {
    throw invalid(
      `slot range ${formatSlotRange(range)} already belongs to shard ${target}`,
      "target",
    );
  }
  const shards = cluster.shards.map((shard, i) => {
    if (i === source) {
      const migrating =
        shard.migrating_slot && countSlots(subtractRanges([shard.migrating_slot], [range])) === 0;
      return {
        ...shard,
        slot_ranges: subtractRanges(shard.slot_ranges, [range]),
        // The range in flight has arrived: the shard no longer migrates.
        migrating_slot: migrating ? null : shard.migrating_slot,
        target_shard_index: migrating ? -1 : shard.target_shard_index,
      };
    }
    if (i === target) return { ...shard, slot_ranges: mergeRanges([...shard.slot_ranges, range]) };
    return shard;
  });
  return bumpVersion({ ...cluster, shards });
}

/**
 * Moves several ranges of one source shard to `target` in one change: version +1 once.
 * A range that overlaps a data migration in flight is refused: the node is copying it.
 */
export function withRangesMoved(
  cluster: Cluster,
  ranges: readonly SlotRange[],
  target: number,
): Cluster {
  if (ranges.length === 0) throw invalid("no slot range to move", "slot");
  let next = cluster;
  for (const range of ranges) {
    const busy = cluster.shards.findIndex(
      (s) => s.migrating_slot !== null && rangesOverlap(s.migrating_slot, range),
    );
    if (busy !== -1) {
      throw conflict(
        `slot range ${formatSlotRange(range)} overlaps the migration in flight on shard ${busy}`,
      );
    }
    next = withRangeMoved(next, range, target);
  }
  return { ...next, version: cluster.version + 1 };
}

/** Whether shard `source` records exactly `range` migrating to `target`. */
export function recordsMigration(
  cluster: Cluster,
  source: number,
  range: SlotRange,
  target: number,
): boolean {
  const shard = cluster.shards[source];
  const m = shard?.migrating_slot;
  return (
    !!m && m.start === range.start && m.stop === range.stop && shard.target_shard_index === target
  );
}

/**
 * Records a data migration in flight; controller metadata only, so no version change.
 * Recording the same migration again changes nothing, so a resumed step can repeat it.
 */
export function withMigrationStarted(cluster: Cluster, range: SlotRange, target: number): Cluster {
  shardAt(cluster, target);
  const source = shardOwning(cluster, range);
  if (source === target) {
    throw invalid(
      `slot range ${formatSlotRange(range)} already belongs to shard ${target}`,
      "target",
    );
  }
  if (recordsMigration(cluster, source, range, target)) return cluster;
  const shard = shardAt(cluster, source);
  if (shard.migrating_slot) {
    throw conflict(`shard ${source} is already migrating ${formatSlotRange(shard.migrating_slot)}`);
  }
  return replaceShard(cluster, source, {
    ...shard,
    migrating_slot: range,
    target_shard_index: target,
  });
}

export function withMigrationCleared(cluster: Cluster, source: number): Cluster {
  const shard = shardAt(cluster, source);
  return replaceShard(cluster, source, { ...shard, migrating_slot: null, target_shard_index: -1 });
}

/** Several new empty shards in one change: version +1 once. */
export function withShardsAdded(
  cluster: Cluster,
  shards: readonly { nodes: string[]; password: string; zones?: ZoneMap }[],
  now: number,
): Cluster {
  if (shards.length === 0) return cluster;
  let next = cluster;
  for (const s of shards) next = withShardAdded(next, s.nodes, s.password, now, s.zones);
  return { ...next, version: cluster.version + 1 };
}

/**
 * Removes the shards holding these node ids (ids, because indexes shift as shards go), in
 * one change: version +1 once. Shards already gone are skipped; each must own no slots.
 */
export function withShardsRemoved(cluster: Cluster, shardNodeIds: readonly string[][]): Cluster {
  const indexes = shardNodeIds
    .map((ids) => cluster.shards.findIndex((s) => s.nodes.some((n) => ids.includes(n.id))))
    .filter((i, at, all) => i !== -1 && all.indexOf(i) === at)
    .sort((a, b) => b - a);
  if (indexes.length === 0) return cluster;
  let next = cluster;
  for (const index of indexes) next = withShardRemoved(next, index);
  return { ...next, version: cluster.version + 1 };
}
