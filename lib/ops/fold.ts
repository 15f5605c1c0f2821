// A migration the nodes completed is part of the topology, whatever etcd says yet: once the
// source reports `success` it answers MOVED, and the target accepts writes for the range. A
// topology pushed without that move makes the source own the range again and the target
// stop serving it, and the writes the target accepted are lost. So every topology change
// reads the migrations recorded in the cluster first and folds the completed ones into what
// it commits (`updateTopology` in topology-changes.ts).
import { errorMessage } from "../errors.js";
import { type ClusterInfo, withNode } from "../kvrocks/index.js";
import { type Cluster, type ClusterNode, masterOf, Task } from "../model/index.js";
import { formatSlotRange, type SlotRange } from "../slots/index.js";
import type { Store } from "../store/index.js";
import { withRangeMoved } from "./compute.js";
import type { OpsDeps } from "./deps.js";

/** What a node said when asked for CLUSTER INFO. */
export type NodeReport =
  | { info: ClusterInfo; error?: undefined }
  | { info?: undefined; error: string };

const same = (a: SlotRange, b: SlotRange) => a.start === b.start && a.stop === b.stop;

/** The source's migration lines are about exactly `range` (they stay after success). */
export function migratesRange(info: ClusterInfo, range: SlotRange): boolean {
  const ranges = info.migrating?.ranges ?? [];
  return ranges.length === 1 && same(ranges[0]!, range);
}

/** The target's import lines are about exactly `range`. */
export function importsRange(info: ClusterInfo, range: SlotRange): boolean {
  const ranges = info.importing?.ranges ?? [];
  return ranges.length === 1 && same(ranges[0]!, range);
}

export interface RecordedMove {
  source: number;
  target: number;
  range: SlotRange;
}

/** The migrations the cluster records (one per source shard at most). */
export function recordedMoves(cluster: Cluster): RecordedMove[] {
  return cluster.shards.flatMap((s, source) =>
    s.migrating_slot && s.target_shard_index >= 0
      ? [{ source, target: s.target_shard_index, range: s.migrating_slot }]
      : [],
  );
}

export type MoveVerdict =
  /** The nodes finished the move: the target serves the range. */
  { done: true; by: "source" | "target" } | { done: false; why: string };

/**
 * Whether the nodes completed `move`, pure. The source's `success` for exactly the range to
 * a node of the target shard is the proof. The target's own `import_state: success` is used
 * only when the source master says nothing about the range (it died, restarted or was
 * replaced by a failover) and MIGRATE was acknowledged: an import success left from an
 * earlier move of the same range would otherwise be taken for this one. Either counts only
 * once MIGRATE was acknowledged, for the same reason.
 */
export function judgeMove(input: {
  move: RecordedMove;
  targetNodeIds: readonly string[];
  source: NodeReport;
  /** Asked only when the source says nothing about the range. */
  target?: NodeReport;
  /** MIGRATE for this attempt was acknowledged (or nobody knows: an adopted record). */
  sent: boolean;
  /** The source had no `success` for the range before this attempt's MIGRATE went out. */
  clean?: boolean;
  /**
   * `sent` and `clean` are about the node that gave `source` (default true). When not, its
   * migration lines are another node's history (a replica promoted since): the source is
   * taken as silent, and only the target's import state can tell.
   */
  sourceBound?: boolean;
  /**
   * The target master asked is the one seen free of an import line for the range before
   * MIGRATE went out (default true): otherwise its `import_state: success` may be left from
   * an earlier import of the same range (moved A→B, B→A, and A→B again) and proves nothing.
   */
  targetBound?: boolean;
}): MoveVerdict {
  const { move, target } = input;
  const source: NodeReport =
    input.sourceBound === false ? { error: "source master changed since MIGRATE" } : input.source;
  const info = source.info;
  const notAcknowledged: MoveVerdict = { done: false, why: "MIGRATE not acknowledged yet" };
  if (info && migratesRange(info, move.range)) {
    // Before MIGRATE is acknowledged, a `success` may be left from an earlier move of the
    // range, unless the source was seen free of one before the attempt.
    if (!input.sent && !input.clean) return notAcknowledged;
    const toTarget = input.targetNodeIds.includes(info.migrating!.destination);
    if (toTarget && info.migrating!.state === "success") return { done: true, by: "source" };
    return { done: false, why: `source reports migrating_state: ${info.migrating!.state}` };
  }
  // The target's import lines are not covered by `clean`: only an acknowledged MIGRATE counts.
  if (!input.sent) return notAcknowledged;
  if (!target) return { done: false, why: "target not asked" };
  if (target.error !== undefined) return { done: false, why: `target: ${target.error}` };
  if (importsRange(target.info, move.range) && target.info.importing!.state === "success") {
    if (input.targetBound === false) {
      return { done: false, why: "target's import lines predate this attempt" };
    }
    return { done: true, by: "target" };
  }
  return {
    done: false,
    why: `target reports import_state: ${target.info.importing?.state ?? "none"}`,
  };
}

export async function readClusterInfo(deps: OpsDeps, node: ClusterNode): Promise<NodeReport> {
  try {
    const options = { password: node.password, timeoutMs: deps.nodeTimeoutMs };
    const use = deps.nodePool ? deps.nodePool.use.bind(deps.nodePool) : withNode;
    return { info: await use(node.addr, options, (c) => c.clusterInfo()) };
  } catch (err) {
    return { error: errorMessage(err) };
  }
}

/**
 * Whether MIGRATE of the record was acknowledged (or went out to a source seen clean), from
 * the task that carries it. A record no readable task carries was left by a crash or another
 * controller: the engine adopts it as sent, and so does this.
 */
async function acknowledged(
  store: Store,
  ns: string,
  name: string,
  move: RecordedMove,
): Promise<{ sent: boolean; clean: boolean; boundTo: string | null; target: string | null }> {
  const unknown = { sent: false, clean: false, boundTo: null, target: null };
  const kvs = await store.readPrefix(store.keys.tasksPrefix(ns, name)).catch(() => null);
  if (kvs === null) return unknown;
  const text = formatSlotRange(move.range);
  for (const kv of kvs) {
    let parsed: Task;
    try {
      parsed = Task.parse(JSON.parse(kv.value));
    } catch {
      continue;
    }
    if (parsed.in_flight === text && parsed.source === move.source)
      return {
        sent: parsed.in_flight_sent,
        clean: parsed.in_flight_clean,
        boundTo: parsed.in_flight_source,
        target: parsed.in_flight_target,
      };
  }
  return { sent: true, clean: false, boundTo: null, target: null };
}

export interface FoldedMove extends RecordedMove {
  by: "source" | "target";
}

/** The recorded moves the nodes completed; asks nothing when the cluster records none. */
export async function completedMoves(
  deps: OpsDeps,
  ns: string,
  cluster: Cluster,
): Promise<FoldedMove[]> {
  const moves = recordedMoves(cluster);
  const out: FoldedMove[] = [];
  for (const move of moves) {
    const sourceMaster = masterOf(cluster.shards[move.source]!);
    const targetShard = cluster.shards[move.target];
    const targetMaster = targetShard && masterOf(targetShard);
    if (!sourceMaster || !targetShard || !targetMaster) continue;
    const source = await readClusterInfo(deps, sourceMaster);
    const silent = !source.info || !migratesRange(source.info, move.range);
    // Still copying, or failed: nothing to fold (and no etcd read on the way).
    if (!silent && source.info?.migrating?.state !== "success") continue;
    const {
      sent,
      clean,
      boundTo,
      target: boundTarget,
    } = await acknowledged(deps.store, ns, cluster.name, move);
    const sourceBound = boundTo === null || boundTo === sourceMaster.id;
    const targetBound = boundTo === null || boundTarget === targetMaster.id;
    const target =
      (silent || !sourceBound) && sent ? await readClusterInfo(deps, targetMaster) : undefined;
    const verdict = judgeMove({
      move,
      targetNodeIds: targetShard.nodes.map((n) => n.id),
      source,
      target,
      sent,
      clean,
      sourceBound,
      targetBound,
    });
    if (verdict.done) out.push({ ...move, by: verdict.by });
  }
  return out;
}

/** `cluster` with the completed moves applied (each version +1, record cleared). */
export function withMovesFolded(cluster: Cluster, moves: readonly RecordedMove[]): Cluster {
  let next = cluster;
  for (const m of moves) next = withRangeMoved(next, m.range, m.target);
  return next;
}
