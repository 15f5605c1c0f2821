// The migration engine's executor, one step per probe round (and once from the HTTP handler
// that queued a task, so work begins at once). Every step re-reads etcd and the source
// node, so a process that dies anywhere leaves a state the next round finishes from:
//   start:    task in_flight=R (CAS) -> record migrating_slot R (CAS) -> MIGRATE -> task sent
//   success:  move R to the target, version +1 (CAS) -> push -> task done += R, next range
//   fail:     clear migrating_slot (CAS) -> task failed
// Time never fails a range: past the timeout the task is marked slow and keeps waiting for
// the node. A task that fails for another reason while the node may still be copying keeps
// its range in flight and the record: a late `success` is still completed (the probe round
// folds it, `settleFinished` records it in the task).
import { setTimeout as delay } from "node:timers/promises";
import { errorMessage, isKvcError } from "../errors.js";
import { isNodeError } from "../kvrocks/index.js";
import {
  type Cluster,
  type ClusterNode,
  isActive,
  isFinished,
  masterOf,
  type Task,
} from "../model/index.js";
import {
  assertStillHeld,
  clearLeftovers,
  clearMigration,
  getTaskDoc,
  migratesRange,
  type OpsDeps,
  pruneTaskHistory,
  pushCommitted,
  readableTaskDocs,
  readClusterInfo,
  recordMigration,
  recordsMigration,
  type StoredTask,
  saveTask,
  saveTaskStep,
  sendMigrate,
  TaskRaceLost,
  updateTopology,
  withRangeMoved,
  withShardsRemoved,
} from "../ops/index.js";
import { containsRange, countSlots, parseSlotRange } from "../slots/index.js";
import type { Fence } from "../store/index.js";
import { pushTopologyToNode } from "../topology/index.js";
import {
  CONVERGENCE_AFTER_MS,
  convergence,
  nodeById,
  readSettings,
  sampleSource,
  wantedSettings,
  writeSettings,
} from "./speed.js";
import {
  decideRemoval,
  decideStep,
  needsTarget,
  nextRange,
  type SourceReport,
  startableTasks,
} from "./step.js";

export const DEFAULT_MIGRATION_TIMEOUT_MS = 10 * 60 * 1000;

/** A step that failed this many times in a row fails its task (with the last error). */
export const MAX_STEP_ERRORS = 3;

export interface MigrationEvent {
  task: string;
  event: string;
  range?: string;
  detail?: string;
  /** `pushed`: from the watch seeing the node's success to every node pushed (ms). */
  ms?: number;
}

export interface AdvanceOptions {
  fence?: Fence;
  /** Only start queued tasks (the HTTP handler): polling running ones is the probe's job. */
  startOnly?: boolean;
  /** The cluster the caller just read: with no active task and no migration in it, stop early. */
  hint?: Cluster;
  /**
   * The tasks as the caller read them with the cluster (one round trip less per probe round);
   * a task that changed since is a lost race its step handles.
   */
  tasks?: StoredTask[];
  /** The caller's lock: once lost, nothing more is sent to a node. */
  signal?: AbortSignal;
}

interface Ctx {
  deps: OpsDeps;
  ns: string;
  cl: string;
  fence: Fence | undefined;
  signal: AbortSignal | undefined;
  events: MigrationEvent[];
  /** A probe round's watch: poll every `everyMs` until `until` (monotonic clock). */
  watch: { everyMs: number; until: number } | undefined;
  monotonic: () => number;
}

const sleep = (ms: number, signal: AbortSignal | undefined) =>
  delay(ms, undefined, { signal }).catch(() => undefined);

/** Whether the round's watch still has time (and the lock). */
const watching = (ctx: Ctx) =>
  ctx.watch !== undefined && !ctx.signal?.aborted && ctx.monotonic() < ctx.watch.until;

/**
 * Asks the source master for its migrating state every `everyMs` while it reports the range
 * in flight as `start`, until that changes (true: decide again now) or the watch's time or
 * the lock is gone, or the node does not answer (false: the round goes on, and a failover
 * of that master is the next round's). Reads only: whatever it sees is acted on by the
 * ordinary steps, each one safe to repeat after a crash.
 */
async function watchSource(ctx: Ctx, cluster: Cluster, task: Task): Promise<boolean> {
  const range = parseSlotRange(task.in_flight!);
  while (watching(ctx)) {
    await sleep(ctx.watch!.everyMs, ctx.signal);
    if (!watching(ctx)) return false;
    const report = await readSource(ctx, cluster, task.source);
    if (!report.info) return false;
    const onIt = migratesRange(report.info, range);
    if (!onIt || report.info.migrating?.state !== "start") return true;
  }
  return false;
}

const save = saveTaskStep;

async function finish(
  ctx: Ctx,
  doc: StoredTask,
  state: Task["state"],
  error: string | null,
  options: { keepInFlight?: boolean } = {},
) {
  const now = ctx.deps.now();
  const in_flight = options.keepInFlight ? doc.task.in_flight : null;
  const task = { ...doc.task, state, error, in_flight, finished_at: now };
  const saved = await save(ctx, doc, task);
  ctx.events.push({ task: task.id, event: state, ...(error ? { detail: error } : {}) });
  // After the task is recorded finished: a crash before the settings are back leaves the
  // record (`source_config`) for a later round to restore from.
  await restoreSettings(ctx, saved).catch((err: unknown) => {
    if (!(err instanceof TaskRaceLost))
      ctx.events.push({ task: task.id, event: "restore_error", detail: errorMessage(err) });
  });
  await pruneTaskHistory(ctx.deps.store, ctx.ns, ctx.cl, { fence: ctx.fence }).catch(() => 0);
}

async function readSource(ctx: Ctx, cluster: Cluster, source: number): Promise<SourceReport> {
  const master = cluster.shards[source] && masterOf(cluster.shards[source]);
  if (!master) return { error: `shard ${source} has no master` };
  return readClusterInfo(ctx.deps, master);
}

const sourceMasterId = (cluster: Cluster, source: number) => {
  const shard = cluster.shards[source];
  return shard ? masterOf(shard)?.id : undefined;
};

const getCluster = async (ctx: Ctx) => (await ctx.deps.store.getCluster(ctx.ns, ctx.cl)).cluster;

/**
 * Puts back the migration settings the task changed on its source masters (`source_config`)
 * and drops each entry once done. A node no longer in the cluster is dropped unasked; one
 * that does not answer keeps its entry, for the next round.
 */
async function restoreSettings(ctx: Ctx, doc: StoredTask): Promise<void> {
  const entries = doc.task.source_config;
  if (entries.length === 0) return;
  const cluster = await getCluster(ctx);
  const kept: Task["source_config"] = [];
  for (const entry of entries) {
    const node = nodeById(cluster, entry.node);
    if (!node) continue;
    try {
      assertStillHeld(ctx.signal);
      await writeSettings(ctx.deps, node, entry.saved);
      ctx.events.push({
        task: doc.task.id,
        event: "settings_restored",
        detail: `${node.addr}: ${JSON.stringify(entry.saved)}`,
      });
    } catch (err) {
      kept.push(entry);
      ctx.events.push({ task: doc.task.id, event: "restore_error", detail: errorMessage(err) });
    }
  }
  await save(ctx, doc, { ...doc.task, source_config: kept });
}

/** Finished tasks whose settings are not back yet (a crash, a node that did not answer). */
async function restoreFinished(ctx: Ctx, docs: readonly StoredTask[]): Promise<void> {
  for (const d of docs) {
    if (!isFinished(d.task) || d.task.source_config.length === 0) continue;
    try {
      const fresh = await getTaskDoc(ctx.deps.store, ctx.ns, ctx.cl, d.task.id);
      if (isFinished(fresh.task)) await restoreSettings(ctx, fresh);
    } catch (err) {
      if (!(err instanceof TaskRaceLost))
        ctx.events.push({ task: d.task.id, event: "restore_error", detail: errorMessage(err) });
    }
  }
}

/**
 * The task's settings on the source master, before MIGRATE: the node's own values are recorded
 * in the task first (compare-and-swap), so a crash after the CONFIG SET still restores them;
 * set again on every send (a restarted node forgot them). Then where its write counter and
 * copy rate stand, for the convergence verdict.
 */
async function applySettings(
  ctx: Ctx,
  doc: StoredTask,
  source: ClusterNode,
): Promise<{ doc: StoredTask; sample: Task["in_flight_sequence"] }> {
  const wanted = wantedSettings(doc.task);
  let current = doc;
  if (wanted.size > 0 && !doc.task.source_config.some((e) => e.node === source.id)) {
    const saved = await readSettings(ctx.deps, source, wanted.keys());
    const entry = { node: source.id, addr: source.addr, saved };
    current = await save(ctx, doc, {
      ...doc.task,
      source_config: [...doc.task.source_config, entry],
    });
  }
  if (wanted.size > 0) {
    assertStillHeld(ctx.signal);
    await writeSettings(ctx.deps, source, wanted);
  }
  const sample = await sampleSource(ctx.deps, source).catch(() => null);
  return {
    doc: current,
    sample: sample && {
      at: ctx.deps.now(),
      sequence: sample.sequence,
      copy_keys_per_s: sample.copy,
    },
  };
}

/**
 * Fails the task. `mayStillMove`: the node may still be copying the range (the task failed
 * on our side, not the node's): the record and the range in flight stay, so a late success
 * is still completed and recorded.
 */
async function failRange(
  ctx: Ctx,
  doc: StoredTask,
  why: string,
  options: { mayStillMove?: boolean } = {},
): Promise<void> {
  const { task } = doc;
  if (task.in_flight && options.mayStillMove) {
    return finish(ctx, doc, "failed", `range ${task.in_flight}: ${why}`, { keepInFlight: true });
  }
  if (task.in_flight) {
    const range = parseSlotRange(task.in_flight);
    await clearMigration(ctx.deps, ctx.ns, ctx.cl, task.source, range, task.target, {
      fence: ctx.fence,
    });
  }
  await finish(ctx, doc, "failed", task.in_flight ? `range ${task.in_flight}: ${why}` : why);
}

/**
 * Before MIGRATE goes out to a source master not yet bound to the attempt: binds it, and
 * notes whether it is free of a `success` for exactly this range (lines an earlier move left
 * behind), so that a later `success` proves this attempt even if its answer is lost. Written
 * before the send; a crash after it sends nothing. A new source master (a failover) starts
 * unacknowledged: the old one's acknowledgement says nothing of it. The target master seen
 * clean just now (`targetId`) is bound the same way: only its import success counts.
 */
async function bindSource(
  ctx: Ctx,
  doc: StoredTask,
  report: SourceReport,
  sourceId: string,
  targetId: string | null,
): Promise<StoredTask> {
  const { task } = doc;
  if (task.in_flight_source === sourceId) {
    if (task.in_flight_target === targetId) return doc;
    return save(ctx, doc, { ...task, in_flight_target: targetId });
  }
  const range = parseSlotRange(task.in_flight!);
  const stale =
    !report.info ||
    (migratesRange(report.info, range) && report.info.migrating?.state === "success");
  return save(ctx, doc, {
    ...task,
    in_flight_source: sourceId,
    in_flight_clean: !stale,
    in_flight_sent: false,
    in_flight_target: targetId,
  });
}

/** Sends MIGRATE for the range in flight; a refusal is ours only if the node is not on it. */
async function send(
  ctx: Ctx,
  first: StoredTask,
  cluster: Cluster,
  pushFirst: boolean,
  report: SourceReport,
) {
  const sourceMaster = masterOf(cluster.shards[first.task.source]!);
  const targetMaster = masterOf(cluster.shards[first.task.target]!);
  if (!sourceMaster || !targetMaster) return;
  const inFlight = parseSlotRange(first.task.in_flight!);
  // The target must take writes to the range once it is moved (a write-forbidden range it
  // kept from moving part of it away earlier), and its next import success must be this
  // attempt's: see leftovers.ts. Nothing cleared (no answer): the send goes on, but the
  // target's word will not complete the range. Not while the source reports the range
  // started or done: that may be this very attempt (MIGRATE went out, the crash came before
  // `in_flight_sent`), and clearing would drop the keys the target holds for it; the source's
  // own lines decide that attempt.
  const m = report.info?.migrating;
  const sourceOnIt =
    report.info !== undefined &&
    migratesRange(report.info, inFlight) &&
    (m?.state === "start" || m?.state === "success");
  let targetId: string | null = null;
  if (!sourceOnIt) {
    assertStillHeld(ctx.signal);
    const leftovers = await clearLeftovers(ctx.deps, targetMaster, [inFlight], {
      freshImport: inFlight,
    });
    for (const error of leftovers.errors)
      ctx.events.push({ task: first.task.id, event: "leftover_error", detail: error });
    if (leftovers.importClean) targetId = targetMaster.id;
  }
  const bound = await bindSource(ctx, first, report, sourceMaster.id, targetId);
  const { doc, sample } = await applySettings(ctx, bound, sourceMaster);
  const { task } = doc;
  const range = parseSlotRange(task.in_flight!);
  const recorded = await recordMigration(ctx.deps, ctx.ns, ctx.cl, range, task.target, {
    fence: ctx.fence,
  });
  const source = recorded.shards[task.source]!;
  assertStillHeld(ctx.signal);
  // A planned switchover may have begun after this round read its inputs: `recorded` is then
  // built on its switch commit, whose new master has not caught up, and pushing it or sending
  // MIGRATE from it would promote that master early. The marker exists from before the switch
  // commit, so reading it after `recorded` sees any switch `recorded` holds. The range stays
  // recorded and unsent, as after a crash right here: a later round sends it.
  if (await ctx.deps.store.switchoverUnderWay(ctx.ns, ctx.cl).catch(() => true)) {
    ctx.events.push({ task: task.id, event: "send_deferred", detail: "a switchover is under way" });
    return;
  }
  if (pushFirst) {
    // The node must have dropped the previous range's MOVED state, or it refuses the next.
    await pushTopologyToNode(recorded, masterOf(source)!, { timeoutMs: ctx.deps.nodeTimeoutMs });
  }
  try {
    await sendMigrate(ctx.deps, recorded, task.source, range, task.target);
  } catch (err) {
    // No answer is no refusal: the next round looks again, until the migration timeout.
    if (isNodeError(err) && err.failure !== "reply") {
      ctx.events.push({ task: task.id, event: "send_error", detail: errorMessage(err) });
      return;
    }
    const again = await readSource(ctx, cluster, task.source);
    const m = again.info?.migrating;
    const onIt =
      m?.ranges.length === 1 &&
      m.ranges[0]!.start === range.start &&
      m.ranges[0]!.stop === range.stop &&
      m.destination === masterOf(recorded.shards[task.target]!)?.id &&
      (m.state === "start" || m.state === "success");
    // Another actor sent it first, or it already succeeded here (MOVED state kept).
    if (!onIt) return failRange(ctx, doc, `source master refused MIGRATE: ${errorMessage(err)}`);
  }
  ctx.events.push({ task: task.id, event: "sent", range: task.in_flight! });
  try {
    const sent = { in_flight_sent: true, in_flight_sequence: sample, not_converging: null };
    await save(ctx, doc, { ...task, ...sent });
  } catch (err) {
    // A cancel request may have written the task meanwhile: mark it on the fresh copy.
    if (!(err instanceof TaskRaceLost)) throw err;
    const fresh = await getTaskDoc(ctx.deps.store, ctx.ns, ctx.cl, task.id);
    if (fresh.task.in_flight !== task.in_flight || fresh.task.in_flight_sent) return;
    await save(ctx, fresh, {
      ...fresh.task,
      in_flight_sent: true,
      in_flight_sequence: sample,
      not_converging: null,
    });
  }
}

/** The range reached the target: record it done and put the next one in flight. */
async function rangeDone(ctx: Ctx, doc: StoredTask): Promise<StoredTask> {
  const { task } = doc;
  const done = [...task.done, task.in_flight!];
  ctx.events.push({ task: task.id, event: "moved", range: task.in_flight! });
  return save(ctx, doc, {
    ...task,
    done,
    slots_done: countSlots(done.map((r) => parseSlotRange(r))),
    in_flight: null,
    in_flight_started_at: null,
    in_flight_sent: false,
    in_flight_source: null,
    in_flight_clean: false,
    in_flight_target: null,
    in_flight_sequence: null,
    not_converging: null,
    slow: false,
  });
}

async function startNext(ctx: Ctx, doc: StoredTask): Promise<StoredTask | null> {
  const { task } = doc;
  if (task.cancel_requested) {
    await finish(ctx, doc, "cancelled", null);
    return null;
  }
  const range = nextRange(task);
  if (range === null) {
    await finish(ctx, doc, "succeeded", null);
    return null;
  }
  const now = ctx.deps.now();
  ctx.events.push({ task: task.id, event: "started", range });
  return save(ctx, doc, {
    ...task,
    state: "running",
    started_at: task.started_at ?? now,
    in_flight: range,
    in_flight_started_at: now,
    in_flight_sent: false,
    in_flight_source: null,
    in_flight_clean: false,
    in_flight_target: null,
  });
}

/**
 * Whether the range in flight converges (see `convergence`): judged once it has migrated
 * CONVERGENCE_AFTER_MS, written to the task (and so to health and metrics) when the verdict
 * changes. A report only: the range keeps migrating; slowing the writers or raising the
 * speed is the operator's call.
 */
async function judgeConvergence(
  ctx: Ctx,
  doc: StoredTask,
  cluster: Cluster,
  range: { start: number; stop: number },
): Promise<StoredTask> {
  const { task } = doc;
  const from = task.in_flight_sequence;
  const now = ctx.deps.now();
  if (!from || now - from.at < CONVERGENCE_AFTER_MS) return doc;
  const master = masterOf(cluster.shards[task.source]!);
  if (!master) return doc;
  const sample = await sampleSource(ctx.deps, master).catch(() => null);
  if (!sample) return doc;
  const verdict = convergence({
    rangeSlots: countSlots([range]),
    sourceSlots: countSlots(cluster.shards[task.source]!.slot_ranges),
    from,
    now,
    sequence: sample.sequence,
  });
  if (!verdict || verdict.converging === (task.not_converging === null)) return doc;
  const rates = `${verdict.range_writes_per_s} writes/s into the range, copied at ${verdict.copy_keys_per_s} keys/s`;
  ctx.events.push({
    task: task.id,
    event: verdict.converging ? "converging" : "not_converging",
    range: task.in_flight!,
    detail: rates,
  });
  return save(ctx, doc, {
    ...task,
    not_converging: verdict.converging
      ? null
      : {
          range: task.in_flight!,
          range_writes_per_s: verdict.range_writes_per_s,
          copy_keys_per_s: verdict.copy_keys_per_s,
          since: now,
        },
  });
}

/** Steps one chain may take: complete -> next -> send, a few thousand times over with a watch. */
const MAX_CHAIN = 4;
const MAX_WATCHED_CHAIN = 20_000;

/**
 * Advances one running (or just started) migrate task as far as it can go now. Under a
 * probe round's watch it goes on while the watch has time: a range the node reports done is
 * completed (committed, pushed) within one poll, and the next range sent at once.
 */
async function stepTask(ctx: Ctx, first: StoredTask, timeoutMs: number): Promise<void> {
  let doc = first;
  /** When the watch saw the source leave `start` for the range in flight (monotonic). */
  let seenAt: number | null = null;
  // complete -> next -> send is the longest chain; the bound only guards against a bug.
  for (let i = 0; i < (ctx.watch ? MAX_WATCHED_CHAIN : MAX_CHAIN); i++) {
    if (i >= MAX_CHAIN && !watching(ctx)) return;
    assertStillHeld(ctx.signal);
    const cluster = await getCluster(ctx);
    const readAt = ctx.monotonic();
    const report: SourceReport = doc.task.in_flight
      ? await readSource(ctx, cluster, doc.task.source)
      : { error: "not asked" };
    const targetMaster =
      cluster.shards[doc.task.target] && masterOf(cluster.shards[doc.task.target]!);
    const target =
      targetMaster && needsTarget(doc.task, report, sourceMasterId(cluster, doc.task.source))
        ? await readClusterInfo(ctx.deps, targetMaster)
        : undefined;
    const now = ctx.deps.now();
    const action = decideStep({ task: doc.task, cluster, report, target, now, timeoutMs });
    switch (action.kind) {
      case "wait": {
        const range = parseSlotRange(doc.task.in_flight!);
        if (!recordsMigration(cluster, doc.task.source, range, doc.task.target)) {
          await recordMigration(ctx.deps, ctx.ns, ctx.cl, range, doc.task.target, {
            fence: ctx.fence,
          });
        }
        if (action.slow && !doc.task.slow) {
          // Once per range: the task says so, and so do health, metrics and the log.
          ctx.events.push({
            task: doc.task.id,
            event: "slow",
            range: doc.task.in_flight!,
            detail: action.why,
          });
          doc = await save(ctx, doc, { ...doc.task, slow: true });
        }
        const m = report.info?.migrating;
        const started =
          report.info !== undefined && migratesRange(report.info, range) && m?.state === "start";
        if (started) doc = await judgeConvergence(ctx, doc, cluster, range);
        if (!started || !watching(ctx)) return;
        if (!(await watchSource(ctx, cluster, doc.task))) return;
        seenAt = ctx.monotonic();
        break;
      }
      case "send": {
        await send(ctx, doc, cluster, action.pushFirst, report);
        if (!watching(ctx)) return;
        // send wrote the task (sent, bound, or failed): go on from what it wrote.
        doc = await getTaskDoc(ctx.deps.store, ctx.ns, ctx.cl, doc.task.id);
        if (!isActive(doc.task)) return;
        break;
      }
      case "fail":
        return failRange(ctx, doc, action.why);
      case "complete":
      case "record_done": {
        const range = parseSlotRange(doc.task.in_flight!);
        const target = doc.task.target;
        const moved = (c: Cluster) => containsRange(c.shards[target]?.slot_ranges ?? [], range);
        const updated = moved(cluster)
          ? cluster
          : (
              await updateTopology(
                ctx.deps,
                ctx.ns,
                ctx.cl,
                (c) => (moved(c) ? c : withRangeMoved(c, range, target)),
                { fence: ctx.fence },
              )
            ).cluster;
        // The source deletes the moved keys when it applies the new topology. The target
        // master first, then the source's: until the target has it, the source's redirect
        // for the range would come back (MOVED both ways).
        assertStillHeld(ctx.signal);
        const order = [
          masterOf(updated.shards[target]!)?.id,
          sourceMasterId(updated, doc.task.source),
        ];
        let pushedAt = 0;
        const pushed = await pushCommitted(ctx.deps, ctx.ns, updated, {
          fence: ctx.fence,
          signal: ctx.signal,
          order: order.filter((id): id is string => id !== undefined),
          onPushed: () => {
            pushedAt = ctx.monotonic();
          },
        });
        // From the first answer that told of the success (the watch's, or this step's own).
        if (action.kind === "complete") {
          const missed = pushed.push.filter((r) => !r.ok).length;
          ctx.events.push({
            task: doc.task.id,
            event: "pushed",
            range: doc.task.in_flight!,
            detail: `every node${missed ? ` but ${missed}` : ""} on version ${pushed.cluster.version}`,
            ms: Math.round((pushedAt || ctx.monotonic()) - (seenAt ?? readAt)),
          });
        }
        seenAt = null;
        doc = await rangeDone(ctx, doc);
        break;
      }
      case "next": {
        const next = await startNext(ctx, doc);
        if (!next) return;
        doc = next;
        break;
      }
    }
  }
}

/** A remove_shards task: once its plan's moves succeeded, remove the shards in one change. */
async function stepRemoval(ctx: Ctx, first: StoredTask, all: readonly Task[]): Promise<void> {
  let doc = first;
  if (doc.task.cancel_requested) return finish(ctx, doc, "cancelled", null);
  const action = decideRemoval(doc.task, all);
  if (action.kind === "wait") return;
  if (action.kind === "fail") return finish(ctx, doc, "failed", action.why);
  if (doc.task.state === "queued") {
    const now = ctx.deps.now();
    doc = await save(ctx, doc, { ...doc.task, state: "running", started_at: now });
  }
  const ids = doc.task.remove_node_ids;
  const current = await getCluster(ctx);
  if (withShardsRemoved(current, ids) !== current) {
    const updated = await updateTopology(
      ctx.deps,
      ctx.ns,
      ctx.cl,
      (c) => withShardsRemoved(c, ids),
      { fence: ctx.fence },
    );
    assertStillHeld(ctx.signal);
    await pushCommitted(ctx.deps, ctx.ns, updated.cluster, {
      fence: ctx.fence,
      signal: ctx.signal,
    });
  }
  ctx.events.push({ task: doc.task.id, event: "removed_shards", detail: JSON.stringify(ids) });
  await finish(ctx, doc, "succeeded", null);
}

/**
 * A migration recorded in the topology that no task carries (a crash of an older
 * controller, or upstream's): adopt it as a task, so it completes, fails or is re-sent.
 */
async function adoptOrphans(ctx: Ctx, cluster: Cluster, docs: StoredTask[]): Promise<boolean> {
  // A finished task that kept its range in flight still carries the record (a late success).
  const carried = (tasks: StoredTask[], source: number) =>
    tasks.some(
      (d) =>
        d.task.kind === "migrate" &&
        d.task.source === source &&
        (isActive(d.task) || d.task.in_flight !== null),
    );
  let orphans = cluster.shards
    .map((s, i) => ({ s, i }))
    .filter(({ s, i }) => s.migrating_slot !== null && !carried(docs, i));
  if (orphans.length === 0) return false;
  // Tasks are written before their record: a record seen implies its task is listed now.
  const fresh = await readableTaskDocs(ctx.deps.store, ctx.ns, ctx.cl);
  orphans = orphans.filter(({ i }) => !carried(fresh, i));
  const now = ctx.deps.now();
  for (const [seq, { s, i }] of orphans.entries()) {
    const range = s.migrating_slot!;
    const text = `${range.start === range.stop ? range.start : `${range.start}-${range.stop}`}`;
    const task: Task = {
      id: `${String(now).padStart(15, "0")}-${String(seq).padStart(3, "0")}adopt${i}`,
      kind: "migrate",
      state: "running",
      source: i,
      target: s.target_shard_index,
      ranges: [text],
      max_range_slots: null,
      speed: null,
      batch_size_kb: null,
      batch_rate_limit_mb: null,
      source_config: [],
      not_converging: null,
      in_flight_sequence: null,
      done: [],
      slot_only: false,
      in_flight: text,
      in_flight_started_at: now,
      in_flight_sent: true,
      in_flight_source: null,
      in_flight_clean: false,
      in_flight_target: null,
      slow: false,
      error_count: 0,
      last_error: null,
      slots_done: 0,
      slots_total: countSlots([range]),
      error: null,
      created_at: now,
      started_at: now,
      finished_at: null,
      cancel_requested: false,
      plan: null,
      remove_node_ids: [],
      replace: null,
    };
    await saveTask(ctx.deps.store, ctx.ns, ctx.cl, task, "absent", ctx.fence);
    ctx.events.push({ task: task.id, event: "adopted", range: text });
  }
  return orphans.length > 0;
}

/** An error that the same step will hit again: the task fails at once with it. */
function persistent(err: unknown): boolean {
  return ["invalid", "too_large", "forbidden", "not_found"].some((k) =>
    isKvcError(err, k as "invalid"),
  );
}

/**
 * Runs one task's step. An error is recorded in the task; a persistent one, or the same step
 * failing MAX_STEP_ERRORS times in a row, fails the task with the reason, so it never stays
 * `running` for good, blocking the tasks behind it.
 */
async function guarded(ctx: Ctx, doc: StoredTask, step: () => Promise<void>): Promise<void> {
  const id = doc.task.id;
  try {
    await step();
    if (doc.task.error_count > 0) {
      const fresh = await getTaskDoc(ctx.deps.store, ctx.ns, ctx.cl, id);
      if (isActive(fresh.task) && fresh.task.error_count > 0)
        await save(ctx, fresh, { ...fresh.task, error_count: 0, last_error: null });
    }
  } catch (err) {
    if (err instanceof TaskRaceLost) return;
    const message = errorMessage(err);
    ctx.events.push({ task: id, event: "error", detail: message });
    if (isKvcError(err, "conflict") && ctx.signal?.aborted) return;
    try {
      const fresh = await getTaskDoc(ctx.deps.store, ctx.ns, ctx.cl, id);
      if (!isActive(fresh.task)) return;
      const count = fresh.task.error_count + 1;
      if (persistent(err) || count >= MAX_STEP_ERRORS) {
        // Our side failed, not the node: whatever it copies may still arrive.
        await failRange(ctx, fresh, `gave up after ${count} failed step(s): ${message}`, {
          mayStillMove: true,
        });
        return;
      }
      await save(ctx, fresh, { ...fresh.task, error_count: count, last_error: message });
    } catch (inner) {
      if (!(inner instanceof TaskRaceLost))
        ctx.events.push({ task: id, event: "error", detail: errorMessage(inner) });
    }
  }
}

/**
 * Finished tasks that kept a range in flight (failed on our side while the node copied):
 * record a late success in the task, and end the wait once the node says it is over.
 */
async function settleFinished(ctx: Ctx, docs: readonly StoredTask[]): Promise<void> {
  const waiting = docs.filter((d) => isFinished(d.task) && d.task.in_flight !== null);
  if (waiting.length === 0) return;
  const cluster = await getCluster(ctx);
  for (const doc of waiting) {
    const { task } = doc;
    const range = parseSlotRange(task.in_flight!);
    const target = cluster.shards[task.target];
    if (target && containsRange(target.slot_ranges, range)) {
      const done = [...task.done, task.in_flight!];
      ctx.events.push({ task: task.id, event: "late_success", range: task.in_flight! });
      await save(ctx, doc, {
        ...task,
        done,
        slots_done: countSlots(done.map((r) => parseSlotRange(r))),
        in_flight: null,
        error: `${task.error ?? "failed"}; the nodes completed range ${task.in_flight} later: it moved to shard ${task.target}`,
      });
      continue;
    }
    if (recordsMigration(cluster, task.source, range, task.target)) {
      const report = await readSource(ctx, cluster, task.source);
      const m = report.info?.migrating;
      const onIt = report.info !== undefined && migratesRange(report.info, range);
      // Still copying (or no answer): keep waiting for it.
      if (!report.info || (onIt && m?.state !== "fail")) continue;
      await clearMigration(ctx.deps, ctx.ns, ctx.cl, task.source, range, task.target, {
        fence: ctx.fence,
      });
    }
    await save(ctx, doc, { ...task, in_flight: null });
  }
}

/** One step of every task of the cluster: poll running ranges, then start what may start. */
export async function advanceMigrations(
  deps: OpsDeps,
  ns: string,
  cl: string,
  options: AdvanceOptions = {},
): Promise<MigrationEvent[]> {
  const ctx: Ctx = {
    deps,
    ns,
    cl,
    fence: options.fence,
    signal: options.signal,
    events: [],
    watch: undefined,
    monotonic: deps.monotonic ?? (() => performance.now()),
  };
  // Only a probe round watches (it owns the cluster and holds its lock); a request handler
  // starts a task and leaves it to the rounds.
  const watch = deps.migrationWatch;
  if (!options.startOnly && watch && watch.forMs > 0) {
    ctx.watch = { everyMs: watch.everyMs, until: ctx.monotonic() + watch.forMs };
  }
  const timeoutMs = deps.migrationTimeoutMs ?? DEFAULT_MIGRATION_TIMEOUT_MS;
  // A node replacement is a task too, advanced by lib/ops/replace.ts: not a migration.
  const migrations = (all: StoredTask[]) => all.filter((d) => d.task.kind !== "replace_node");
  let docs = migrations(options.tasks ?? (await readableTaskDocs(deps.store, ns, cl)));
  const quiet = (c: Cluster) => c.shards.every((s) => s.migrating_slot === null);
  const lingering = docs.some(
    (d) => isActive(d.task) || d.task.in_flight !== null || d.task.source_config.length > 0,
  );
  if (!lingering && options.hint && quiet(options.hint)) return [];

  if (!options.startOnly) {
    if (await adoptOrphans(ctx, await getCluster(ctx), docs)) {
      docs = migrations(await readableTaskDocs(deps.store, ns, cl));
    }
    await settleFinished(ctx, docs).catch((err: unknown) => {
      ctx.events.push({ task: "-", event: "error", detail: errorMessage(err) });
    });
    // Before anything starts: a task that follows on the same source then reads the node's
    // own values, not the finished task's.
    await restoreFinished(ctx, docs);
    const running = docs.filter((d) => d.task.state === "running");
    await Promise.all(
      running.map((d) =>
        guarded(ctx, d, () =>
          d.task.kind === "remove_shards"
            ? stepRemoval(
                ctx,
                d,
                docs.map((x) => x.task),
              )
            : stepTask(ctx, d, timeoutMs),
        ),
      ),
    );
    docs = migrations(await readableTaskDocs(deps.store, ns, cl));
  }

  const startable = new Set(startableTasks(docs.map((d) => d.task)).map((t) => t.id));
  await Promise.all(
    docs
      .filter((d) => startable.has(d.task.id))
      .map((d) =>
        guarded(ctx, d, async () => {
          if (d.task.kind === "remove_shards")
            return stepRemoval(
              ctx,
              d,
              docs.map((x) => x.task),
            );
          const started = await startNext(ctx, d);
          if (started) await stepTask(ctx, started, timeoutMs);
        }),
      ),
  );
  return ctx.events;
}
