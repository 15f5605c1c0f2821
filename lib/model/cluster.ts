// The cluster as stored in etcd, field for field as apache/kvrocks-controller writes it,
// so an existing controller's data reads back and ours reads in theirs.
import { z } from "zod";
import {
  formatSlotRange,
  formatSlotRanges,
  parseSlotRange,
  type SlotRange,
} from "../slots/index.js";
import { Addr, NodeId, ResourceName, Zone } from "./names.js";

export const NodeRole = z.enum(["master", "slave"]);
export type NodeRole = z.infer<typeof NodeRole>;

export const ClusterNode = z.object({
  id: NodeId,
  addr: Addr,
  role: NodeRole,
  password: z.string().default(""),
  created_at: z.number().int().default(0),
  /** Ours: the failure domain (zone, rack) the node runs in; absent when not given. */
  zone: Zone.optional(),
  /**
   * Ours, absent unless set (upstream's clients ignore it): when the node was drained for
   * maintenance (ms). A drained node is never failed over nor counted by safe mode, and
   * raises no alert; it is still repaired when it answers (see docs/operations.md).
   */
  drained_at: z.number().int().nonnegative().optional(),
});
export type ClusterNode = z.infer<typeof ClusterNode>;

const StoredSlotRange = z.string().transform((text, ctx) => {
  try {
    return parseSlotRange(text);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
});

// Upstream wrote -1 for "not migrating" before it wrote null; numbers are single slots.
const MigratingSlot = z
  .union([z.null(), z.undefined(), z.number().int(), z.string()])
  .transform((value, ctx): SlotRange | null => {
    if (value === null || value === undefined || value === -1 || value === "" || value === "-1") {
      return null;
    }
    try {
      return parseSlotRange(String(value));
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
      return z.NEVER;
    }
  });

export const Shard = z.object({
  nodes: z.array(ClusterNode),
  slot_ranges: z
    .array(StoredSlotRange)
    .nullish()
    .transform((r) => r ?? []),
  target_shard_index: z.number().int().default(-1),
  migrating_slot: MigratingSlot.default(null),
});
export type Shard = z.infer<typeof Shard>;

export const Cluster = z.object({
  name: ResourceName,
  version: z.number().int().nonnegative(),
  shards: z
    .array(Shard)
    .nullish()
    .transform((s) => s ?? []),
});
export type Cluster = z.infer<typeof Cluster>;

/** The JSON written to etcd (and answered by the API, after redaction). */
export interface ClusterJson {
  name: string;
  version: number;
  shards: ShardJson[];
}
export interface ShardJson {
  nodes: ClusterNode[];
  slot_ranges: string[];
  target_shard_index: number;
  migrating_slot: string | null;
}

export function clusterToJson(cluster: Cluster): ClusterJson {
  return {
    name: cluster.name,
    version: cluster.version,
    shards: cluster.shards.map((shard) => ({
      nodes: shard.nodes.map((n) => ({ ...n })),
      slot_ranges: formatSlotRanges(shard.slot_ranges),
      target_shard_index: shard.target_shard_index,
      migrating_slot: shard.migrating_slot ? formatSlotRange(shard.migrating_slot) : null,
    })),
  };
}

export function masterOf(shard: Shard): ClusterNode | undefined {
  return shard.nodes.find((n) => n.role === "master");
}

export const isDrained = (node: ClusterNode): boolean => node.drained_at !== undefined;

export function allNodes(cluster: Cluster): ClusterNode[] {
  return cluster.shards.flatMap((s) => s.nodes);
}
