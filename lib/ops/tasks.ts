// Migration tasks in etcd: ids, listing, the checks a new migration must pass, cancel, and
// the bounded history of finished tasks. Every write compares the task's revision, so the
// HTTP handlers and probe rounds can act on one task at once and only one of them wins.
import { randomBytes } from "node:crypto";
import { conflict, invalid, isKvcError, notFound } from "../errors.js";
import { type Cluster, isActive, isFinished, Task } from "../model/index.js";
import {
  countSlots,
  formatSlotRange,
  parseSlotRange,
  rangesOverlap,
  type SlotRange,
  splitRanges,
} from "../slots/index.js";
import type { CorruptDoc, Fence, Revision, Store } from "../store/index.js";
import { shardAt, shardOwning } from "./compute.js";

/** Finished tasks kept per cluster; older ones are deleted as new ones finish. */
export const TASK_HISTORY_LIMIT = 100;

export interface StoredTask {
  task: Task;
  revision: Revision;
}

/**
 * Sorts by creation: zero-padded milliseconds, then the position within one request (a scale
 * queues several at once), then a random tail against two instances in the same millisecond.
 */
export function newTaskId(now: number, seq = 0): string {
  return `${String(now).padStart(15, "0")}-${String(seq).padStart(3, "0")}${randomBytes(3).toString("hex")}`;
}

const byId = (a: StoredTask, b: StoredTask) =>
  a.task.id < b.task.id ? -1 : a.task.id > b.task.id ? 1 : 0;

/** The cluster's tasks that decode, oldest first, and the documents that do not. */
export async function readTaskDocs(
  store: Store,
  ns: string,
  cl: string,
): Promise<{ tasks: StoredTask[]; corrupt: CorruptDoc[] }> {
  const { docs, corrupt } = await store.listDocsChecked(store.keys.tasksPrefix(ns, cl), Task);
  return { tasks: docs.map((d) => ({ task: d.value, revision: d.revision })).sort(byId), corrupt };
}

/**
 * The cluster's tasks, oldest first, for a request that must see all of them (a new
 * migration checks overlaps against every task): a document that does not decode is an
 * `invalid` error naming it. Probe rounds use `readTaskDocs`, which skips it.
 */
export async function listTaskDocs(store: Store, ns: string, cl: string): Promise<StoredTask[]> {
  const { tasks, corrupt } = await readTaskDocs(store, ns, cl);
  if (corrupt[0]) throw invalid(corrupt[0].error);
  return tasks;
}

/** The cluster's tasks that decode, oldest first. */
export async function readableTaskDocs(
  store: Store,
  ns: string,
  cl: string,
): Promise<StoredTask[]> {
  return (await readTaskDocs(store, ns, cl)).tasks;
}

/** Every task of the cluster, oldest first; `not_found` if the cluster does not exist. */
export async function listTasks(store: Store, ns: string, cl: string): Promise<Task[]> {
  await store.getCluster(ns, cl);
  return (await listTaskDocs(store, ns, cl)).map((d) => d.task);
}

export async function getTaskDoc(
  store: Store,
  ns: string,
  cl: string,
  id: string,
): Promise<StoredTask> {
  const doc = await store.getDoc(store.keys.task(ns, cl, id), Task);
  if (!doc) throw notFound(`task ${id} not found in cluster ${ns}/${cl}`);
  return { task: doc.value, revision: doc.revision };
}

export async function getTask(store: Store, ns: string, cl: string, id: string): Promise<Task> {
  await store.getCluster(ns, cl);
  return (await getTaskDoc(store, ns, cl, id)).task;
}

/** Writes the task if it is still at `expect`; returns the new revision. */
export async function saveTask(
  store: Store,
  ns: string,
  cl: string,
  task: Task,
  expect: Revision | "absent",
  fence?: Fence,
): Promise<Revision> {
  const value = Task.parse(task);
  return store.putDoc(store.keys.task(ns, cl, task.id), value, { expectRevision: expect, fence });
}

/** Whether `err` is a lost compare on a task: someone else advanced it first. */
export function lostTaskRace(err: unknown): boolean {
  return isKvcError(err, "conflict") && /^document /.test((err as Error).message);
}

/** Someone else wrote the task first: the step that lost stops quietly, theirs stands. */
export class TaskRaceLost extends Error {}

/** A step's write of its task: CAS on the revision it read; a lost race is `TaskRaceLost`. */
export async function saveTaskStep(
  where: { deps: { store: Store }; ns: string; cl: string; fence: Fence | undefined },
  doc: StoredTask,
  task: Task,
): Promise<StoredTask> {
  try {
    const revision = await saveTask(
      where.deps.store,
      where.ns,
      where.cl,
      task,
      doc.revision,
      where.fence,
    );
    return { task, revision };
  } catch (err) {
    if (lostTaskRace(err)) throw new TaskRaceLost();
    throw err;
  }
}

export async function assertNoActiveTasks(
  store: Store,
  ns: string,
  cl: string,
  action: string,
): Promise<void> {
  const active = (await listTaskDocs(store, ns, cl)).filter((d) => isActive(d.task));
  if (active.length > 0) {
    const ids = active.map((d) => `${d.task.id} (${d.task.state})`).join(", ");
    throw conflict(`cannot ${action} while migration tasks are active: ${ids}`);
  }
}

/** A task's source settings as a request gives them (absent: the node's own value). */
export interface MigrationSettings {
  speed?: number;
  batch_size_kb?: number;
  batch_rate_limit_mb?: number;
}

export function newMigrationTask(input: {
  id: string;
  source: number;
  target: number;
  ranges: readonly SlotRange[];
  now: number;
  plan?: string | null;
  /** Cut the ranges into pieces of at most this many slots; none: as given. */
  maxRangeSlots?: number;
  /** The source master's migration settings for the task (see `Task.speed`). */
  settings?: MigrationSettings;
}): Task {
  const max = input.maxRangeSlots;
  const ranges = max === undefined ? input.ranges : splitRanges(input.ranges, max);
  return Task.parse({
    id: input.id,
    kind: "migrate",
    state: "queued",
    source: input.source,
    target: input.target,
    ranges: ranges.map(formatSlotRange),
    max_range_slots: max ?? null,
    ...input.settings,
    slots_total: countSlots(input.ranges),
    created_at: input.now,
    plan: input.plan ?? null,
  });
}

/** The first pending range of an active task that overlaps one of `wanted`. */
export function overlapsActive(
  wanted: readonly SlotRange[],
  tasks: readonly Task[],
): { range: SlotRange; task: Task } | null {
  for (const task of tasks.filter(isActive)) {
    const pending = task.ranges.filter((r) => !task.done.includes(r)).map((r) => parseSlotRange(r));
    for (const range of wanted) {
      if (pending.some((p) => rangesOverlap(p, range))) return { range, task };
    }
  }
  return null;
}

/**
 * Checks a migration request against the stored cluster and the active tasks; returns the
 * source shard. All ranges must lie in one source shard, each inside it whole.
 */
export function checkMigration(
  cluster: Cluster,
  ranges: readonly SlotRange[],
  target: number,
  tasks: readonly Task[],
): number {
  if (ranges.length === 0) throw invalid("give a slot range in slot or slots", "slot");
  shardAt(cluster, target);
  let source = -1;
  ranges.forEach((range, i) => {
    const text = formatSlotRange(range);
    const owner = (() => {
      try {
        return shardOwning(cluster, range);
      } catch {
        throw invalid(`slot range ${text} spans shards or is not owned by one shard`, "slots");
      }
    })();
    if (source !== -1 && owner !== source) {
      throw invalid(
        `slot range ${text} belongs to shard ${owner}, not shard ${source}: one request moves ranges of one source shard`,
        "slots",
      );
    }
    source = owner;
    if (owner === target) {
      throw invalid(`slot range ${text} already belongs to shard ${target}`, "target");
    }
    const clash = ranges.findIndex((other, j) => j < i && rangesOverlap(other, range));
    if (clash !== -1) {
      throw invalid(
        `slot range ${text} overlaps ${formatSlotRange(ranges[clash]!)} in the same request`,
        "slots",
      );
    }
  });
  const removal = tasks.find((t) => isActive(t) && t.kind === "remove_shards");
  if (removal) {
    throw conflict(`task ${removal.id} will remove shards (indexes shift); wait until it ends`);
  }
  const overlap = overlapsActive(ranges, tasks);
  if (overlap) {
    throw conflict(
      `slot range ${formatSlotRange(overlap.range)} is already being moved by task ${overlap.task.id}`,
    );
  }
  return source;
}

/**
 * A queued task stops at once; a running one lets its range in flight finish (or fail)
 * and then stops, with its remaining ranges dropped; a running removal stops at its next step.
 */
export async function cancelTask(
  store: Store,
  ns: string,
  cl: string,
  id: string,
  now: number,
): Promise<Task> {
  await store.getCluster(ns, cl);
  for (let attempt = 0; ; attempt++) {
    const { task, revision } = await getTaskDoc(store, ns, cl, id);
    if (task.state === "cancelled") return task;
    if (isFinished(task)) throw conflict(`task ${id} already ${task.state}`);
    // A running removal stops before its next step (it checks the request first); a step
    // that keeps failing fails the task, so a cancel is never left waiting for good.
    const stopsNow =
      task.state === "queued" || (task.kind === "migrate" && task.in_flight === null);
    const next: Task = stopsNow
      ? { ...task, state: "cancelled", cancel_requested: true, finished_at: now }
      : { ...task, cancel_requested: true };
    try {
      await saveTask(store, ns, cl, next, revision);
      return next;
    } catch (err) {
      if (!lostTaskRace(err) || attempt >= 4) throw err;
    }
  }
}

/** Deletes the oldest finished tasks beyond the history limit. */
export async function pruneTaskHistory(
  store: Store,
  ns: string,
  cl: string,
  options: { fence?: Fence; limit?: number } = {},
): Promise<number> {
  const finished = (await readableTaskDocs(store, ns, cl)).filter((d) => isFinished(d.task));
  const excess = finished.length - (options.limit ?? TASK_HISTORY_LIMIT);
  let deleted = 0;
  for (const old of finished.slice(0, Math.max(0, excess))) {
    await store.deleteDoc(store.keys.task(ns, cl, old.task.id), {
      expectRevision: old.revision,
      fence: options.fence,
    });
    deleted++;
  }
  return deleted;
}
