// A node's live statistics as the stats route answers them (read from INFO, never stored).
import { z } from "zod";
import { NodeRole } from "./cluster.js";

const count = z.number().int().nonnegative();

export const NodeStats = z.object({
  id: z.string(),
  addr: z.string(),
  shard: z.number().int(),
  /** The role in the stored topology. */
  role: NodeRole,
  up: z.boolean(),
  version: z.string().nullable(),
  uptime_seconds: count.nullable(),
  used_memory_bytes: count.nullable(),
  used_disk_bytes: count.nullable(),
  keys: count.nullable(),
  ops_per_sec: count.nullable(),
  connected_clients: count.nullable(),
  /**
   * Writes behind, from RocksDB sequences: a replica's master's minus its own; a master's is
   * the largest of its answering replicas' (0 without replicas). Null when it cannot be known
   * (the node or its master did not answer; a master none of whose replicas answered).
   */
  replication_lag: count.nullable(),
  /** Why the node did not answer. */
  error: z.string().optional(),
});
export type NodeStats = z.infer<typeof NodeStats>;

export const ClusterStats = z.object({ nodes: z.array(NodeStats) });
export type ClusterStats = z.infer<typeof ClusterStats>;
