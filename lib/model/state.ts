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
  /** How the last failed probe failed: refused (process gone), timeout, or other. */
  last_failure: z.enum(["refused", "timeout", "other"]).nullable().default(null),
  /**
   * The error reply the node gave instead of its view (NOAUTH, WRONGPASS, `ERR max number of
   * clients reached`): alive, so never failed over nor counted by safe mode, yet the
   * controller cannot manage it until an operator fixes it. Null when it answered properly.
   */
  unmanageable: z.string().nullable().default(null),
  /** The topology version the node reported (-1: not initialized), null if it did not answer. */
  version: z.number().int().nullable(),
  role: NodeRole.nullable(),
});
export type NodeHealth = z.infer<typeof NodeHealth>;

/**
 * A replica seen without a working link to its master (down, or `master_link_status:down`).
 * Written when that is first seen and when the master then takes writes, not every round.
 */
export const ReplicaLag = z.object({
  /** The master's `sequence` when the replica was first seen unlinked. */
  master_sequence: z.number().int().nonnegative(),
  /** The master took writes since: the replica lacks data until its link is up again. */
  stale: z.boolean(),
});
export type ReplicaLag = z.infer<typeof ReplicaLag>;

/**
 * A master its owner judged down, waiting for the observer quorum: who judged it down (the
 * owner first) and which witnesses still reach it. Rewritten only when the votes change.
 */
export const PendingQuorum = z.object({
  shard: z.number().int().nonnegative(),
  addr: z.string(),
  since: z.number(),
  needed: z.number().int().positive(),
  /** Distinct observer names that judged it down within down-after plus one interval. */
  down: z.array(z.string()),
  /** Observer names whose latest vote says it answers. */
  up: z.array(z.string()),
  /**
   * The lease of the owner whose own confirmation judged the master down. Only that owner
   * may take a later failed probe as "still down"; a new owner confirms afresh.
   */
  owner_lease: z.string().nullable().default(null),
});
export type PendingQuorum = z.infer<typeof PendingQuorum>;

export const ProbeState = z.object({
  nodes: z.record(z.string(), NodeHealth).default({}),
  safe_mode: z.boolean().default(false),
  safe_mode_reason: z.string().nullable().default(null),
  /**
   * While in safe mode: the nodes that answered the round before it began, the only ones
   * whose failures keep it on (a node already down then is not evidence of a split).
   */
  safe_mode_nodes: z.array(z.string()).default([]),
  /** Per shard index: why a failover that was due did not happen. */
  failover_blocked: z.record(z.string(), z.string()).default({}),
  /**
   * Ids of masters seen holding data (`sequence` > 0): once the master is dead, an empty
   * replica of its shard must not replace it.
   */
  masters_with_data: z.array(z.string()).default([]),
  /** Per replica id: its link to the master was seen down. Kept while the master is dead. */
  replica_lag: z.record(z.string(), ReplicaLag).default({}),
  /**
   * Ids of masters whose `sequence` the probe has read: whether they held data is known first
   * hand. A master missing here (and from `masters_with_data`) died before any round saw it:
   * nothing is known of its data, and no replica is promoted over it on a guess.
   */
  masters_seen: z.array(z.string()).default([]),
  /** Ids of replicas seen following their master (link up, not in a full sync). */
  replicas_linked: z.array(z.string()).default([]),
  /** A node that claims a newer version than etcd: reported, never adopted. */
  ahead: z.record(z.string(), z.number().int()).default({}),
  /** Per master id: a suspicion waiting for the observer quorum (`KVC_PROBE_QUORUM` > 1). */
  quorum: z.record(z.string(), PendingQuorum).default({}),
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
  /**
   * `refused`: the failover was due and did not happen (no replica could be promoted without
   * losing data); `reason` says why and the new master fields are empty.
   */
  outcome: z.enum(["promoted", "refused"]).default("promoted"),
  /** The old master's consecutive failures when the probe acted; null for a manual failover. */
  failures: z.number().int().nullable(),
  duration_ms: z.number(),
  version: z.number().int(),
  /** The observers that judged the master down, when a quorum decided (`KVC_PROBE_QUORUM` > 1). */
  voters: z.array(z.string()).optional(),
});
export type FailoverRecord = z.infer<typeof FailoverRecord>;
