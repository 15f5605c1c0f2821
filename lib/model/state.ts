// What the controller keeps about a cluster besides its topology: probe counters and history.
import { z } from "zod";
import { NodeRole } from "./cluster.js";

export const NodeHealth = z.object({
  addr: z.string(),
  /** Consecutive failed probes. */
  failures: z.number().int().nonnegative(),
  /** When the last failure was counted: two probes closer than an interval count once. */
  counted_at: z.number().nullable().default(null),
  down: z.boolean(),
  last_ok: z.number().nullable(),
  last_error: z.string().nullable(),
  /** The topology version the node reported (-1: not initialized), null if it did not answer. */
  version: z.number().int().nullable(),
  role: NodeRole.nullable(),
});
export type NodeHealth = z.infer<typeof NodeHealth>;

export const ProbeState = z.object({
  nodes: z.record(z.string(), NodeHealth).default({}),
  safe_mode: z.boolean().default(false),
  safe_mode_reason: z.string().nullable().default(null),
  /** Per shard index: why a failover that was due did not happen. */
  failover_blocked: z.record(z.string(), z.string()).default({}),
  /** A node that claims a newer version than etcd: reported, never adopted. */
  ahead: z.record(z.string(), z.number().int()).default({}),
  /**
   * The last round that wrote this document. Refreshed at least every heartbeat, so a scrape
   * can tell a stalled probe from a quiet one without every healthy round writing to etcd.
   */
  last_round: z
    .object({ at: z.number(), duration_ms: z.number(), outcome: z.string() })
    .nullable()
    .default(null),
});
export type ProbeState = z.infer<typeof ProbeState>;

export const emptyProbeState = (): ProbeState => ProbeState.parse({});

export const FailoverRecord = z.object({
  kind: z.literal("failover"),
  at: z.number(),
  shard: z.number().int(),
  old_master_id: z.string(),
  old_master_addr: z.string(),
  new_master_id: z.string(),
  new_master_addr: z.string(),
  reason: z.string(),
  /** The old master's consecutive failures when the probe acted; null for a manual failover. */
  failures: z.number().int().nullable(),
  duration_ms: z.number(),
  version: z.number().int(),
});
export type FailoverRecord = z.infer<typeof FailoverRecord>;
