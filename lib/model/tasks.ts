// Migration tasks as stored under /kvrocks/state/<ns>/<cluster>/tasks/<id>. A task moves
// ranges from one source shard to one target shard, one range at a time; a scale-in ends
// with a `remove_shards` task that runs once the moves of its plan have succeeded.
import { z } from "zod";

export const TaskState = z.enum(["queued", "running", "succeeded", "failed", "cancelled"]);
export type TaskState = z.infer<typeof TaskState>;

export const TaskKind = z.enum(["migrate", "remove_shards", "replace_node"]);
export type TaskKind = z.infer<typeof TaskKind>;

/**
 * A replace_node task's own state (lib/ops/replace.ts). NEW joined as a replica of OLD's
 * shard before the task was written; each step is re-judged from the stored topology.
 */
export const ReplaceStep = z.enum(["catch_up", "switch", "remove"]);
export type ReplaceStep = z.infer<typeof ReplaceStep>;

export const ReplaceState = z.object({
  old_id: z.string(),
  old_addr: z.string(),
  new_id: z.string(),
  new_addr: z.string(),
  step: ReplaceStep,
  /** Planned switchovers tried and undone (NEW did not catch up in time). */
  switch_attempts: z.number().int().nonnegative().default(0),
  /** What the task waits for now, written when it changes. */
  waiting: z.string().nullable().default(null),
});
export type ReplaceState = z.infer<typeof ReplaceState>;

export const Task = z.object({
  id: z.string().min(1),
  kind: TaskKind.default("migrate"),
  state: TaskState,
  /** Shard indexes when the task was created; removeShard refuses while tasks are active. */
  source: z.number().int(),
  target: z.number().int(),
  /**
   * Every range of the task in order, as `"5"` / `"5-10"`: the request's ranges cut into
   * pieces of at most `max_range_slots` slots, each moved (and its final phase, when Kvrocks
   * refuses writes to it, gone through) on its own.
   */
  ranges: z.array(z.string()),
  /** The most slots one range of `ranges` holds (null: an older version's task, uncut). */
  max_range_slots: z.number().int().positive().nullable().default(null),
  /** Ranges that reached the target (the topology moved them). */
  done: z.array(z.string()).default([]),
  slot_only: z.boolean().default(false),
  in_flight: z.string().nullable().default(null),
  in_flight_started_at: z.number().nullable().default(null),
  /**
   * The source master acknowledged MIGRATE for `in_flight`. Until then a `success` or `fail`
   * the node reports for the same range may be left over from an earlier attempt.
   */
  in_flight_sent: z.boolean().default(false),
  /**
   * The source master (node id) MIGRATE for `in_flight` goes to; `in_flight_sent` and
   * `in_flight_clean` are about that node only. Another node's migration lines (a replica
   * promoted since, holding lines from a move it made as master long ago) prove nothing.
   * null: written by an older version, not bound.
   */
  in_flight_source: z.string().nullable().default(null),
  /**
   * Before MIGRATE went out to `in_flight_source`, that node reported no `success` for exactly
   * this range: a `success` it reports now is this attempt's, acknowledged or not (an answer
   * lost to a timeout, a crash before `in_flight_sent` was written).
   */
  in_flight_clean: z.boolean().default(false),
  /**
   * The target master (node id) that, when MIGRATE went out, kept no import line for exactly
   * this range a new import could be taken for (Kvrocks keeps `import_state: success` from an
   * earlier import of the same range until the next import): only its `success` proves this
   * attempt. null on a bound task (`in_flight_source` set): no target was seen clean, so the
   * target's word proves nothing; on an unbound one: an older version's, any target counts.
   */
  in_flight_target: z.string().nullable().default(null),
  /**
   * The range in flight is past the migration timeout. Reported (task, health, metrics,
   * logs), never acted on: a range is given up only when the node says `fail`.
   */
  slow: z.boolean().default(false),
  /**
   * The source master's migration settings for this task (`CONFIG SET` before each MIGRATE,
   * restored when the task ends): `migrate-speed` (keys/s, 0 = no limit), and
   * `migrate-batch-size-kb` / `migrate-batch-rate-limit-mb` (used by Kvrocks's
   * `migrate-type raw-key-value` only). null: the node's own value.
   */
  speed: z.number().int().min(0).max(2147483647).nullable().default(null),
  batch_size_kb: z.number().int().min(1).max(2147483647).nullable().default(null),
  batch_rate_limit_mb: z.number().int().min(0).max(2147483647).nullable().default(null),
  /**
   * Each source master this task changed settings on, with the values it had before: written
   * before the `CONFIG SET`, so whatever crashes after it, the values are put back (by the
   * step that finishes the task, or by a later round for a finished task still listing one).
   */
  source_config: z
    .array(
      z.object({
        node: z.string(),
        addr: z.string(),
        saved: z.record(z.string(), z.string()),
      }),
    )
    .default([]),
  /**
   * The range in flight takes writes faster than the source copies them (Kvrocks then never
   * reaches the final phase): the rates seen, reported in health and metrics. null: not
   * judged (yet), or converging.
   */
  not_converging: z
    .object({
      range: z.string(),
      /** The source master's writes/s times the range's share of its slots. */
      range_writes_per_s: z.number(),
      /** The source's `migrate-speed` (keys/s); 0 = no limit (never judged then). */
      copy_keys_per_s: z.number(),
      since: z.number(),
    })
    .nullable()
    .default(null),
  /** Where the source's write counter stood when the range in flight was sent. */
  in_flight_sequence: z
    .object({ at: z.number(), sequence: z.number(), copy_keys_per_s: z.number() })
    .nullable()
    .default(null),
  /** Steps that ended in an error since the last one that did not; the last error. */
  error_count: z.number().int().nonnegative().default(0),
  last_error: z.string().nullable().default(null),
  slots_done: z.number().int().nonnegative().default(0),
  slots_total: z.number().int().nonnegative(),
  error: z.string().nullable().default(null),
  created_at: z.number(),
  started_at: z.number().nullable().default(null),
  finished_at: z.number().nullable().default(null),
  cancel_requested: z.boolean().default(false),
  /** The scale request that queued the task, if any. */
  plan: z.string().nullable().default(null),
  /** remove_shards: the node ids of each shard to remove (indexes shift; ids do not). */
  remove_node_ids: z.array(z.array(z.string())).default([]),
  /** replace_node: which node replaces which, and how far it got. */
  replace: ReplaceState.nullable().default(null),
});
export type Task = z.infer<typeof Task>;

export const ACTIVE_STATES: readonly TaskState[] = ["queued", "running"];

export function isActive(task: Pick<Task, "state">): boolean {
  return ACTIVE_STATES.includes(task.state);
}

export function isFinished(task: Pick<Task, "state">): boolean {
  return !isActive(task);
}
