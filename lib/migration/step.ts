// The migration engine's decisions, pure: from (task, stored cluster, the source master's
// CLUSTER INFO) to the one next step, and which queued tasks may start. The executor in
// engine.ts does the I/O; every step it takes is safe to take again after a crash.
import { type Cluster, masterOf, type Task } from "../model/index.js";
import { importsRange, judgeMove, migratesRange, type NodeReport } from "../ops/index.js";
import { containsRange, formatSlotRange, parseSlotRange, type SlotRange } from "../slots/index.js";

/** What the source master said when asked for CLUSTER INFO. */
export type SourceReport = NodeReport;

export type MigrationAction =
  /**
   * Nothing to do this round. `slow`: the range is past the migration timeout; it is never
   * given up while the source still migrates it, only reported.
   */
  | { kind: "wait"; why: string; slow?: boolean }
  /** The node finished our range: move it to the target in etcd, push, go on. */
  | { kind: "complete" }
  /** etcd already has the range on the target (a crash after that write): record it done. */
  | { kind: "record_done" }
  /** The node is not migrating our range: (re)send MIGRATE; push first if the node is behind. */
  | { kind: "send"; pushFirst: boolean }
  /** Give up on the range and the task; clear the shard's migration record if it is ours. */
  | { kind: "fail"; why: string }
  /** No range in flight: start the next one, or finish the task. */
  | { kind: "next" };

export interface StepInput {
  task: Task;
  cluster: Cluster;
  report: SourceReport;
  /**
   * The target master's CLUSTER INFO, when the source says nothing about the range after
   * MIGRATE was acknowledged (a failover or restart of the source): its import state tells
   * whether the move completed. Without it such a range is sent again.
   */
  target?: NodeReport;
  now: number;
  timeoutMs: number;
}

/** The first range of the task that has not reached the target yet. */
export function nextRange(task: Task): string | null {
  const done = new Set(task.done);
  return task.ranges.find((r) => !done.has(r) && r !== task.in_flight) ?? null;
}

function sameRange(a: SlotRange, b: SlotRange): boolean {
  return a.start === b.start && a.stop === b.stop;
}

/** The task's flags are about `sourceId` (or bound to no node: an older version's task). */
export function boundTo(task: Task, sourceId: string | undefined): boolean {
  return task.in_flight_source === null || task.in_flight_source === sourceId;
}

/**
 * The target master's import success may prove this attempt: it is the target master seen
 * clean before MIGRATE went out (or the task is an older version's, bound to nothing).
 */
export function targetBoundTo(task: Task, targetId: string | undefined): boolean {
  return task.in_flight_source === null || task.in_flight_target === targetId;
}

/** Whether the engine must ask the target master before deciding (see `StepInput.target`). */
export function needsTarget(task: Task, report: SourceReport, sourceId?: string): boolean {
  if (task.in_flight === null || !task.in_flight_sent) return false;
  if (!boundTo(task, sourceId)) return true;
  return !report.info || !migratesRange(report.info, parseSlotRange(task.in_flight));
}

export function decideStep(input: StepInput): MigrationAction {
  const { task, cluster, report, now, timeoutMs } = input;
  if (task.in_flight === null) return { kind: "next" };
  const range = parseSlotRange(task.in_flight);
  const text = task.in_flight;
  const source = cluster.shards[task.source];
  const target = cluster.shards[task.target];
  if (target && containsRange(target.slot_ranges, range)) return { kind: "record_done" };
  if (!source || !containsRange(source.slot_ranges, range)) {
    return { kind: "fail", why: `range ${text} is no longer owned by shard ${task.source}` };
  }
  const targetMaster = target ? masterOf(target) : undefined;
  if (!targetMaster) return { kind: "fail", why: `target shard ${task.target} has no master` };
  const record = source.migrating_slot;
  if (record && !(sameRange(record, range) && source.target_shard_index === task.target)) {
    return {
      kind: "fail",
      why: `shard ${task.source} records another migration (${formatSlotRange(record)} to shard ${source.target_shard_index})`,
    };
  }

  const elapsed = now - (task.in_flight_started_at ?? now);
  const slow = elapsed > timeoutMs;
  const wait = (why: string): MigrationAction =>
    slow
      ? { kind: "wait", why: `${why}; slow: past the ${timeoutMs} ms migration timeout`, slow }
      : { kind: "wait", why };

  const info = report.info;
  const migrating = info?.migrating;
  const onRange = info ? migratesRange(info, range) : false;
  const targetIds = target!.nodes.map((n) => n.id);
  const state = migrating?.state ?? "none";
  // The source's own `success` to the target (or the target's import state once the source
  // forgot the range): the nodes moved it, whatever the time.
  const verdict = judgeMove({
    move: { source: task.source, target: task.target, range },
    targetNodeIds: targetIds,
    source: report,
    target: input.target,
    sent: task.in_flight_sent,
    clean: task.in_flight_clean,
    sourceBound: boundTo(task, masterOf(source)?.id),
    targetBound: targetBoundTo(task, targetMaster.id),
  });
  if (verdict.done) return { kind: "complete" };

  if (report.error !== undefined) {
    return wait(`source master does not answer: ${report.error}`);
  }
  if (onRange && state === "start") {
    // To this target master, or to a former one (a failover there): wait for it to end,
    // then send again to the new master.
    return wait(
      migrating!.destination === targetMaster.id
        ? `migrating ${text}`
        : `migrating ${text} to a former target master`,
    );
  }
  if (onRange && state === "fail" && task.in_flight_sent) {
    return {
      kind: "fail",
      why: `source master reported migrating_state: fail for ${text} (destination ${targetMaster.addr})`,
    };
  }
  if (migrating?.state === "start" && !onRange) {
    const other = migrating.ranges.map(formatSlotRange).join(",");
    return {
      kind: "fail",
      why: `source master is migrating ${other} to ${migrating.destination}, not ${text}`,
    };
  }
  const imported = input.target?.info;
  if (imported && importsRange(imported, range) && imported.importing?.state === "start") {
    // The target still imports from a source master that is gone; its link drops soon and
    // the import ends (`error`, slot cleared) before anything is sent again.
    return wait(`target master still imports ${text}`);
  }
  // Not migrating our range (never sent, lost on a restart or a failover, or lines left from
  // an earlier attempt before MIGRATE was acknowledged): send it.
  return { kind: "send", pushFirst: (info?.currentEpoch ?? 0) < cluster.version };
}

/** Shards a task occupies: a source migrates and a target imports one range at a time. */
function shardsOf(task: Task): number[] {
  return [task.source, task.target];
}

/**
 * Which queued tasks may start now, oldest first. One range in flight per shard; a queued
 * task also holds its shards against younger tasks, so nothing overtakes it. A
 * `remove_shards` task renumbers shards: it starts alone and nothing starts after it.
 */
export function startableTasks(tasks: readonly Task[]): Task[] {
  const ordered = [...tasks].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const running = ordered.filter((t) => t.state === "running");
  if (running.some((t) => t.kind === "remove_shards")) return [];
  // A finished task still waiting on its range in flight (a late success) holds its shards.
  const lingering = ordered.filter(
    (t) => t.state !== "queued" && t.state !== "running" && t.in_flight !== null,
  );
  const busy = new Set([...running, ...lingering].flatMap(shardsOf));
  const out: Task[] = [];
  // A lingering range keeps its source shard's migration record, and shards are not removed
  // under a record (their indexes would shift under it): a removal waits for it to end rather
  // than start now and fail.
  let activeBefore = running.length > 0 || lingering.length > 0;
  for (const task of ordered) {
    if (task.state !== "queued") continue;
    if (task.kind === "remove_shards") {
      if (!activeBefore) out.push(task);
      break;
    }
    if (!shardsOf(task).some((s) => busy.has(s))) out.push(task);
    for (const s of shardsOf(task)) busy.add(s);
    activeBefore = true;
  }
  return out;
}

export type RemovalAction =
  | { kind: "wait"; why: string }
  | { kind: "remove" }
  | { kind: "fail"; why: string };

/** A remove_shards task runs once every move of its plan succeeded. */
export function decideRemoval(task: Task, tasks: readonly Task[]): RemovalAction {
  const plan = tasks.filter((t) => t.plan === task.plan && t.id !== task.id);
  const bad = plan.find((t) => t.state === "failed" || t.state === "cancelled");
  if (bad) return { kind: "fail", why: `task ${bad.id} of the plan ${bad.state}: shards kept` };
  const pending = plan.find((t) => t.state === "queued" || t.state === "running");
  if (pending) return { kind: "wait", why: `task ${pending.id} of the plan is ${pending.state}` };
  return { kind: "remove" };
}
