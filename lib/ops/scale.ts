// Migrate and scale requests: check, then either move slots in the topology at once
// (slot-only) or queue tasks that the probe rounds carry out. Nothing here waits for data.
import { conflict, errorMessage, invalid } from "../errors.js";
import { withNode } from "../kvrocks/index.js";
import { type Cluster, type ClusterNode, isActive, masterOf, Task } from "../model/index.js";
import {
  formatSlotRange,
  keySlot,
  parseSlotRange,
  rangesOverlap,
  type SlotRange,
} from "../slots/index.js";
import { type PlannedMove, planBalance } from "./balance.js";
import { assertNodesFree, assertNodesMayJoin } from "./checks.js";
import { shardAt, withRangeMoved, withShardsAdded, withShardsRemoved } from "./compute.js";
import type { OpsDeps } from "./deps.js";
import { clearLeftovers } from "./leftovers.js";
import {
  checkMigration,
  listTaskDocs,
  type MigrationSettings,
  newMigrationTask,
  newTaskId,
  saveTask,
} from "./tasks.js";
import { changeTopology, changeTopologyJoining, moveSlotsOnly } from "./topology-changes.js";
import { assertKvrocksVersions } from "./versions.js";
import { type AddedShard, placeAddedShards, placementOf } from "./zones.js";

export interface MigrateRequest {
  target: number;
  ranges: SlotRange[];
  slotOnly: boolean;
  /** Slot-only: move even what the controller knows was moved here with data. */
  force?: boolean;
  /** With data: the most slots one range of the task holds (default: the config's). */
  maxRangeSlots?: number;
  /** With data: the source's migration settings while the task runs. */
  settings?: MigrationSettings;
}

/** The cut a task's ranges get: the request's, else the config's, else uncut. */
const rangeCut = (deps: OpsDeps, requested: number | undefined) =>
  requested ?? deps.migrationMaxRangeSlots;

/**
 * The latest data move that brought any of `ranges` to `shard` and nothing moved since (by
 * task): its keys are on that shard, and a slot-only move would leave them unreachable there.
 */
export function lastMovedWithData(
  tasks: readonly Task[],
  ranges: readonly SlotRange[],
  shard: number,
): Task | undefined {
  const touches = (t: Task) =>
    t.kind === "migrate" &&
    t.done.some((d) => ranges.some((r) => rangesOverlap(parseSlotRange(d), r)));
  const last = [...tasks].reverse().find(touches);
  return last && !last.slot_only && last.target === shard ? last : undefined;
}

/** Pages of SCAN a slot-only move reads at most to tell whether its slots hold keys. */
const KEY_SCAN_PAGES = 64;
const KEY_SCAN_COUNT = 1000;

export type KeyPresence =
  | { held: true; key: string }
  | { held: false }
  | { held: "unknown"; why: string };

/**
 * Whether `node` stores keys in `ranges`. Kvrocks 2.10.1 has neither CLUSTER COUNTKEYSINSLOT
 * nor GETKEYSINSLOT; its SCAN returns keys in slot order (see `KvrocksClient.scan`), so the
 * scan stops at the first key in the ranges or past them, and gives up ("unknown") after
 * KEY_SCAN_PAGES pages of keys in lower slots.
 */
export async function keysInSlots(
  deps: OpsDeps,
  node: ClusterNode,
  ranges: readonly SlotRange[],
): Promise<KeyPresence> {
  const last = Math.max(...ranges.map((r) => r.stop));
  try {
    const options = { password: node.password, timeoutMs: deps.nodeTimeoutMs };
    return await withNode(node.addr, options, async (client): Promise<KeyPresence> => {
      let cursor = "0";
      for (let page = 0; page < KEY_SCAN_PAGES; page++) {
        const res = await client.scan(cursor, KEY_SCAN_COUNT);
        for (const key of res.keys) {
          const slot = keySlot(key);
          if (ranges.some((r) => r.start <= slot && slot <= r.stop)) {
            return { held: true, key: key.toString("utf8") };
          }
          // Slot order: no key of the ranges can follow.
          if (slot > last) return { held: false };
        }
        if (res.cursor === "0") return { held: false };
        cursor = res.cursor;
      }
      return {
        held: "unknown",
        why: `over ${KEY_SCAN_PAGES * KEY_SCAN_COUNT} keys in lower slots`,
      };
    });
  } catch (err) {
    return { held: "unknown", why: errorMessage(err) };
  }
}

/**
 * A slot-only move leaves the slots' keys on their shard, unreachable: refused when the
 * source master holds keys in them, or, when that cannot be told, when the slots were last
 * moved there with data.
 */
async function assertNoKeysLeftBehind(
  deps: OpsDeps,
  cluster: Cluster,
  source: number,
  ranges: readonly SlotRange[],
  tasks: readonly Task[],
  how = "Move them with data (slot_only: false), or send force: true to move the slots alone",
): Promise<void> {
  const what = ranges.map(formatSlotRange).join(",");
  const master = masterOf(shardAt(cluster, source));
  const presence: KeyPresence = master
    ? await keysInSlots(deps, master, ranges)
    : { held: "unknown", why: "no master" };
  if (presence.held === true) {
    throw conflict(
      `shard ${source}'s master holds keys in slots ${what} (${presence.key} among them): a slot-only move would leave them there, unreachable. ${how}`,
    );
  }
  if (presence.held === false) return;
  const withData = lastMovedWithData(tasks, ranges, source);
  if (withData) {
    throw conflict(
      `slots ${what} were last moved to shard ${source} with their keys (task ${withData.id}, ranges ${withData.done.join(",")}) and whether they still hold keys could not be told (${presence.why}): a slot-only move would leave those keys there, unreachable. ${how}`,
    );
  }
}

/**
 * A slot-only move gives `target` slots without their keys. Its master must take writes to
 * them: a write-forbidden range it kept from an earlier migration is released first (see
 * leftovers.ts), or the move is refused, since Kvrocks would refuse every write to them.
 */
async function prepareSlotOnlyTarget(
  deps: OpsDeps,
  cluster: Cluster,
  target: number,
  ranges: readonly SlotRange[],
  force: boolean,
): Promise<void> {
  const master = masterOf(shardAt(cluster, target));
  if (!master) return;
  const outcome = await clearLeftovers(deps, master, ranges);
  // A master that does not answer (not started yet, down) keeps no migration state once it
  // runs again: Kvrocks holds it in memory only. One that answered and refused is stuck.
  if (outcome.errors.length === 0 || !outcome.report.info || force) return;
  throw conflict(
    `shard ${target}'s master ${master.addr} keeps slots write-forbidden from an earlier migration and refused to release them (${outcome.errors.join("; ")}): given these slots now it would refuse every write to them. Restart that node (Kvrocks keeps this state in memory only) or fail the shard over to a replica, then retry; force moves the slots anyway`,
  );
}

export type MigrateOutcome =
  | { cluster: Cluster; task?: undefined }
  | { task: Task; cluster?: undefined };

/** Slot-only: all ranges move in one CAS (version +1 once). Data: one queued task. */
export async function migrateSlots(
  deps: OpsDeps,
  ns: string,
  cl: string,
  request: MigrateRequest,
): Promise<MigrateOutcome> {
  const { cluster } = await deps.store.getCluster(ns, cl);
  const tasks = (await listTaskDocs(deps.store, ns, cl)).map((d) => d.task);
  const source = checkMigration(cluster, request.ranges, request.target, tasks);
  if (request.slotOnly) {
    const force = request.force ?? false;
    if (!force) await assertNoKeysLeftBehind(deps, cluster, source, request.ranges, tasks);
    await prepareSlotOnlyTarget(deps, cluster, request.target, request.ranges, force);
    const moved = await moveSlotsOnly(deps, ns, cl, request.ranges, request.target);
    return { cluster: moved.cluster };
  }
  const now = deps.now();
  const task = newMigrationTask({
    id: newTaskId(now),
    source,
    target: request.target,
    ranges: request.ranges,
    now,
    maxRangeSlots: rangeCut(deps, request.maxRangeSlots),
    ...(request.settings ? { settings: request.settings } : {}),
  });
  await saveTask(deps.store, ns, cl, task, "absent");
  return { task };
}

export interface ScaleRequest {
  addShards: AddedShard[];
  removeShards: number[];
  dryRun: boolean;
  slotOnly: boolean;
  checkNodes: boolean;
  skipVersionCheck?: boolean;
  /** An admin's: take nodes a cluster no longer stored left initialised. */
  force?: boolean;
  /** The most slots one range of each queued task holds (default: the config's). */
  maxRangeSlots?: number;
  /** Each queued task's source settings while it runs. */
  settings?: MigrationSettings;
}

export interface PlanJson {
  moves: { source: number; target: number; ranges: string[]; slots: number }[];
  add_shards: number;
  remove_shards: number[];
  /** The added shards' nodes, roles and zones, as placed (see `placeAddedShards`). */
  placement: ReturnType<typeof placementOf>;
}

export interface ScaleOutcome {
  plan: PlanJson;
  tasks: Task[];
  cluster: Cluster;
}

const planJson = (
  moves: PlannedMove[],
  added: readonly AddedShard[],
  removed: number[],
  first: number,
): PlanJson => ({
  moves: moves.map((m) => ({
    source: m.source,
    target: m.target,
    ranges: m.ranges.map(formatSlotRange),
    slots: m.slots,
  })),
  add_shards: added.length,
  remove_shards: removed,
  placement: placementOf(added, first),
});

function checkScale(cluster: Cluster, request: ScaleRequest): void {
  if (request.addShards.length > 0 && request.removeShards.length > 0) {
    throw invalid("add_shards and remove_shards cannot be combined in one request", "body");
  }
  request.removeShards.forEach((index, i) => {
    if (index >= cluster.shards.length) {
      throw invalid(`shard ${index} does not exist`, `remove_shards.${i}`);
    }
    if (request.removeShards.indexOf(index) !== i) {
      throw invalid(`shard ${index} is listed twice`, `remove_shards.${i}`);
    }
  });
}

const SCALE_WITH_DATA =
  "Scale without slot_only, or move these slots with migrate slot_only and force: true first";

/** Moves and removals applied to the topology at once: the slot-only scale. */
function withPlanApplied(cluster: Cluster, moves: PlannedMove[], removeIds: string[][]): Cluster {
  let next = cluster;
  for (const m of moves) for (const r of m.ranges) next = withRangeMoved(next, r, m.target);
  next = withShardsRemoved(next, removeIds);
  return { ...next, version: cluster.version + 1 };
}

/**
 * Scale out (add shards, then move each old shard's surplus to them), scale in (drain the
 * given shards, then remove them once their tasks succeeded) or rebalance (neither).
 */
export async function scaleCluster(
  deps: OpsDeps,
  ns: string,
  cl: string,
  request: ScaleRequest,
): Promise<ScaleOutcome> {
  const stored = await deps.store.getCluster(ns, cl);
  checkScale(stored.cluster, request);
  // Placed once, on the cluster as read: a retry of the same request places the same way.
  request = { ...request, addShards: placeAddedShards(stored.cluster, request.addShards) };
  const first = stored.cluster.shards.length;
  const history = (await listTaskDocs(deps.store, ns, cl)).map((d) => d.task);
  const active = history.filter(isActive);
  if (active.length > 0 && !request.dryRun) {
    throw conflict(`cannot scale while tasks are active: ${active.map((t) => t.id).join(", ")}`);
  }
  const now = deps.now();
  const removed = new Set(request.removeShards);
  const withNew = withShardsAdded(stored.cluster, request.addShards, now);
  const planned = planBalance(withNew, removed);
  const plan = planJson(planned, request.addShards, request.removeShards, first);
  if (request.dryRun) return { plan, tasks: [], cluster: stored.cluster };
  // A slot-only scale moves slots without their keys, and scale in then drops the drained
  // shards' nodes: refused, before anything is added, when a source holds keys in what it
  // gives (the same check as a slot-only migrate; this request's `force` is a take-over).
  const leavesKeys = (moves: readonly PlannedMove[], on: Cluster) =>
    Promise.all(
      moves.map((m) =>
        assertNoKeysLeftBehind(deps, on, m.source, m.ranges, history, SCALE_WITH_DATA),
      ),
    );
  if (request.slotOnly) await leavesKeys(planned, withNew);

  let cluster = stored.cluster;
  if (request.addShards.length > 0) {
    // Asked whatever `check_nodes` says (see `createCluster`).
    const taken = await Promise.all(
      request.addShards.map((s) =>
        assertNodesMayJoin(deps, { namespace: ns, cluster: cl }, s.nodes, s.password, {
          current: stored.cluster,
          force: request.force ?? false,
        }),
      ),
    );
    const takenOver = new Set(taken.flatMap((t) => [...t]));
    if (request.checkNodes) {
      await Promise.all(
        request.addShards.map((s) =>
          assertNodesFree(s.nodes, s.password, deps.nodeTimeoutMs, takenOver),
        ),
      );
    }
    if (!request.skipVersionCheck) {
      await Promise.all(
        request.addShards.map((s) =>
          assertKvrocksVersions(s.nodes, s.password, {
            timeoutMs: deps.nodeTimeoutMs,
            allowUnreachable: !request.checkNodes,
          }),
        ),
      );
    }
    const added = await changeTopologyJoining(
      deps,
      ns,
      cl,
      (c) => ({ cluster: withShardsAdded(c, request.addShards, now), result: undefined }),
      takenOver,
    );
    cluster = added.cluster;
  }
  // Plan again on what was stored: it is what the tasks will find.
  const moves = planBalance(cluster, removed);
  const removeIds = request.removeShards.map((i) => cluster.shards[i]!.nodes.map((n) => n.id));

  if (request.slotOnly) {
    if (moves.length === 0 && removeIds.length === 0) return { plan, tasks: [], cluster };
    // Planned again on what was stored: a move not checked above is checked now.
    const checked = new Set(planned.map((m) => JSON.stringify(m)));
    await leavesKeys(
      moves.filter((m) => !checked.has(JSON.stringify(m))),
      cluster,
    );
    for (const m of moves) await prepareSlotOnlyTarget(deps, cluster, m.target, m.ranges, false);
    const applied = await changeTopology(deps, ns, cl, (c) => ({
      cluster: withPlanApplied(c, moves, removeIds),
      result: undefined,
    }));
    return {
      plan: planJson(moves, request.addShards, request.removeShards, first),
      tasks: [],
      cluster: applied.cluster,
    };
  }

  const planId = `plan-${newTaskId(now)}`;
  const tasks = moves.map((m, seq) =>
    newMigrationTask({
      id: newTaskId(now, seq),
      ...m,
      now,
      plan: planId,
      maxRangeSlots: rangeCut(deps, request.maxRangeSlots),
      ...(request.settings ? { settings: request.settings } : {}),
    }),
  );
  if (removeIds.length > 0) {
    tasks.push(
      Task.parse({
        id: newTaskId(now, moves.length),
        kind: "remove_shards",
        state: "queued",
        source: -1,
        target: -1,
        ranges: [],
        slots_total: 0,
        created_at: now,
        plan: planId,
        remove_node_ids: removeIds,
      }),
    );
  }
  // In order: the removal is written last, so a crash part-way never removes a shard.
  for (const task of tasks) await saveTask(deps.store, ns, cl, task, "absent");
  return {
    plan: planJson(moves, request.addShards, request.removeShards, first),
    tasks,
    cluster,
  };
}
