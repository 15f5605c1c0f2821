// `--wait`: follow a migration to its end, showing progress on stderr.
import { containsRange, countSlots, mergeRanges, type SlotRange } from "../lib/slots/index.js";
import type { Ctx } from "./context.js";
import { TaskFailedError, UnreachableError } from "./errors.js";
import { type Progress, ProgressReporter, progressOfTask } from "./format/progress.js";
import { toMillis } from "./format/table.js";
import { parseSlots } from "./parse.js";
import { FINISHED, type ShardJson, type Task } from "./types.js";

/** Read at each poll, not at load: the CLI tests run many kvctl invocations in one process. */
const pollMs = () => Number(process.env.KVCTL_POLL_MS) || 500;
/** How long controllers may all be unreachable before waiting gives up. */
const UNREACHABLE_GRACE_MS = 30_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `next` until it says done; tolerates controllers being briefly unreachable. */
async function poll<T>(
  next: () => Promise<T>,
  isDone: (value: T) => boolean,
  onValue: (value: T) => void,
  first: T,
): Promise<T> {
  let value = first;
  let lastOk = Date.now();
  for (;;) {
    onValue(value);
    if (isDone(value)) return value;
    await sleep(pollMs());
    try {
      value = await next();
      lastOk = Date.now();
    } catch (err) {
      if (!(err instanceof UnreachableError) || Date.now() - lastOk > UNREACHABLE_GRACE_MS)
        throw err;
    }
  }
}

function onInterrupt(reporter: ProgressReporter, ctx: Ctx, hint: string): () => void {
  const handler = () => {
    reporter.finish();
    ctx.out.info(`stopped waiting; the migration keeps running (${hint})`);
    process.exit(130);
  };
  process.once("SIGINT", handler);
  return () => process.off("SIGINT", handler);
}

function elapsedOf(task: Task, followedSince: number): number {
  const started = toMillis(task.started_at) ?? followedSince;
  const end = toMillis(task.finished_at) ?? Date.now();
  return Math.max(0, end - started);
}

export async function followTask(ctx: Ctx, ns: string, cl: string, first: Task): Promise<Task> {
  const reporter = new ProgressReporter(process.stderr, `task ${first.id}`);
  const since = Date.now();
  const detach = onInterrupt(reporter, ctx, `follow it with: kvctl get task ${first.id}`);
  try {
    const task = await poll(
      async () => (await ctx.api.getTask(ns, cl, first.id)).task,
      (t) => FINISHED.includes(t.state),
      (t) => reporter.update(progressOfTask(t, elapsedOf(t, since))),
      first,
    );
    reporter.finish();
    if (task.state !== "succeeded") {
      throw new TaskFailedError(
        `task ${task.id} ${task.state}: ${task.error ?? "no reason given"}`,
      );
    }
    return task;
  } finally {
    reporter.finish();
    detach();
  }
}

/**
 * For controllers that answer a data migration with the cluster instead of a task (upstream's,
 * and ours before tasks): watch the cluster until the source shard stops migrating.
 */
export async function followClusterMigration(
  ctx: Ctx,
  ns: string,
  cl: string,
  source: number,
  target: number,
  slots: readonly string[],
): Promise<void> {
  const ranges: SlotRange[] = mergeRanges(slots.flatMap((s) => parseSlots(s, "slot")));
  const total = countSlots(ranges);
  const label = `migration ${slots.join(",")} -> shard ${target}`;
  const reporter = new ProgressReporter(process.stderr, label);
  const since = Date.now();
  const detach = onInterrupt(reporter, ctx, `watch it with: kvctl get cluster ${cl} -n ${ns}`);
  const moved = (shards: ShardJson[]) =>
    ranges.filter((r) =>
      containsRange(
        (shards[target]?.slot_ranges ?? []).flatMap((t) => parseSlots(t, "slot_ranges")),
        r,
      ),
    );
  const snapshot = async () => (await ctx.api.getCluster(ns, cl)).cluster.shards;
  try {
    const shards = await poll(
      snapshot,
      (s) => s[source]?.migrating_slot === null || s[source] === undefined,
      (s): void => {
        const p: Progress = {
          state: s[source]?.migrating_slot === null ? "finished" : "running",
          done: countSlots(moved(s)),
          total,
          range: s[source]?.migrating_slot ?? null,
          elapsedMs: Date.now() - since,
        };
        reporter.update(p);
      },
      await snapshot(),
    );
    reporter.finish();
    if (moved(shards).length !== ranges.length) {
      throw new TaskFailedError(
        `migration of ${slots.join(",")} stopped before every slot reached shard ${target}; see 'kvctl get cluster ${cl} -n ${ns}'`,
      );
    }
  } finally {
    reporter.finish();
    detach();
  }
}
