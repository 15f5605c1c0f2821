// A cluster's health as the API answers it: what the probe last recorded, per node.
import { z } from "zod";
import { NodeRole } from "./cluster.js";
import { PendingQuorum } from "./state.js";

export const NodeHealthView = z.object({
  id: z.string(),
  addr: z.string(),
  shard: z.number().int(),
  role: NodeRole,
  /** Unknown (never probed) counts as up until a probe says otherwise. */
  up: z.boolean(),
  probed: z.boolean(),
  failures: z.number().int(),
  last_ok: z.number().nullable(),
  last_error: z.string().nullable(),
  /** How the last failed probe failed: refused (process gone), timeout, or other. */
  last_failure: z.enum(["refused", "timeout", "other"]).nullable().default(null),
  /**
   * The error reply it answered the probe with (NOAUTH, WRONGPASS, max clients): up, never
   * failed over, but nothing can be read from or pushed to it until that is fixed.
   */
  unmanageable: z.string().nullable().default(null),
  reported_version: z.number().int().nullable(),
  role_seen: NodeRole.nullable(),
  behind: z.boolean(),
  /**
   * Reports a newer topology version than etcd's (an etcd restore, a cluster re-created over
   * its nodes, another controller): never adopted; a failover goes above it.
   */
  ahead: z.boolean().default(false),
  /** Drained for maintenance (see `ClusterNode.drained_at`): down is expected, not alarming. */
  drained: z.boolean().default(false),
});
export type NodeHealthView = z.infer<typeof NodeHealthView>;

export const ClusterHealth = z.object({
  version: z.number().int(),
  safe_mode: z.boolean(),
  safe_mode_reason: z.string().nullable(),
  nodes_behind: z.number().int(),
  /** Nodes reporting a newer version than etcd's (see `NodeHealthView.ahead`). */
  nodes_ahead: z.number().int().default(0),
  nodes_down: z.number().int(),
  /** Nodes that answer the probe with an error reply (see `NodeHealthView.unmanageable`). */
  nodes_unmanageable: z.number().int().default(0),
  failover_blocked: z.record(z.string(), z.string()),
  /** Masters judged down and waiting for the observer quorum, with their votes. */
  quorum: z.array(PendingQuorum.extend({ master_id: z.string() })),
  ahead: z.record(z.string(), z.number().int()),
  /** Running tasks whose range in flight is past the migration timeout (still waited for). */
  slow_migrations: z.array(
    z.object({ task: z.string(), range: z.string().nullable(), since: z.number().nullable() }),
  ),
  /**
   * Running tasks whose range in flight takes writes faster than the source copies them
   * (Kvrocks never reaches the final phase until the writes slow down or the speed rises).
   */
  not_converging_migrations: z
    .array(
      z.object({
        task: z.string(),
        range: z.string(),
        range_writes_per_s: z.number(),
        copy_keys_per_s: z.number(),
        since: z.number(),
      }),
    )
    .default([]),
  /** Probe state and task documents that do not decode: skipped, reported here. */
  unreadable_documents: z.array(z.object({ key: z.string(), error: z.string() })),
  /** Placement by zone: shards sharing a zone, zones whose loss a shard or safe mode would not survive. */
  zone_warnings: z.array(z.string()).default([]),
  nodes: z.array(NodeHealthView),
});
export type ClusterHealth = z.infer<typeof ClusterHealth>;
