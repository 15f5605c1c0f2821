// Shard, node and slot changes: fold completed migrations, compute, compare-and-swap, then
// push. Every topology change of the controller commits through `updateTopology`.
import { conflict, notFound } from "../errors.js";
import { withNode } from "../kvrocks/index.js";
import type { Cluster, ClusterNode, NodeRole, ZoneMap } from "../model/index.js";
import { allNodes, canonicalAddr, masterOf } from "../model/index.js";
import type { SlotRange } from "../slots/index.js";
import type { ClusterUpdate, ClusterUpdateFn, Fence } from "../store/index.js";
import type { PushOptions, PushResult } from "../topology/index.js";
import { assertNodesMayJoin } from "./checks.js";
import {
  recordsMigration,
  shardAt,
  shardOwning,
  withMigrationCleared,
  withMigrationStarted,
  withNodeAdded,
  withNodeRemoved,
  withRangesMoved,
  withShardAdded,
  withShardRemoved,
} from "./compute.js";
import type { OpsDeps } from "./deps.js";
import { completedMoves, type FoldedMove, recordedMoves, withMovesFolded } from "./fold.js";
import { pushCluster } from "./push.js";
import { assertNoActiveTasks } from "./tasks.js";
import { assertKvrocksVersions } from "./versions.js";

export interface Changed<T = undefined> {
  cluster: Cluster;
  push: PushResult[];
  result: T;
}

export interface CommitOptions {
  fence?: Fence;
  /** The caller's lock: once it is lost, nothing more is pushed to the nodes. */
  signal?: AbortSignal;
  /** Told which completed migrations the change folded in. */
  onFolded?: (moves: FoldedMove[]) => void;
}

/** Throws `conflict` once the caller's lock is lost: no node side effect after that. */
export function assertStillHeld(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw conflict("the lock of this change was lost: nodes left untouched");
}

/**
 * The one commit of a topology change: read, fold in every migration the nodes completed,
 * apply `fn`, compare-and-swap (retried on a lost race, the nodes asked again each time).
 * A change therefore never commits, nor pushes, a topology that hands a range the nodes
 * already moved back to its source.
 */
export async function updateTopology(
  deps: OpsDeps,
  ns: string,
  name: string,
  fn: ClusterUpdateFn,
  options: CommitOptions = {},
): Promise<ClusterUpdate> {
  let folded: FoldedMove[] = [];
  const updated = await deps.store.updateCluster(
    ns,
    name,
    async (current) => {
      folded = await completedMoves(deps, ns, current);
      return fn(withMovesFolded(current, folded));
    },
    { fence: options.fence },
  );
  if (folded.length > 0) {
    options.onFolded?.(folded);
    deps.log.child({ namespace: ns, cluster: name }).info(
      {
        moves: folded.map((m) => ({ ...m, range: `${m.range.start}-${m.range.stop}` })),
        version: updated.cluster.version,
      },
      "migration: completed on the nodes, folded into the topology",
    );
  }
  return updated;
}

/** At most this many re-folds after one commit (each one is a migration the nodes completed). */
const MAX_REFOLDS = 3;

/**
 * Pushes a topology committed through `updateTopology`. The commit asked the nodes about each
 * recorded migration before it committed; one may complete after that question and before
 * this push, and the push would then hand the range back to its source (the source serves it
 * again from its old keys, refusing writes: Kvrocks keeps it write-forbidden; the target
 * redirects the writes it accepted meanwhile). So the recorded migrations are asked again
 * right before the push, and a completed one is folded by a new commit, which is what is
 * pushed; and once more after the push, for one that completed during it: folded and pushed
 * at once rather than at the next probe round. Nothing is asked when nothing is recorded.
 * After a crash anywhere here, the committed topology is in etcd and the next probe round
 * folds (`foldCompletedMigrations`) and pushes before anything else.
 */
export async function pushCommitted(
  deps: OpsDeps,
  ns: string,
  committed: Cluster,
  options: CommitOptions &
    Pick<PushOptions, "takeOver" | "only" | "order"> & {
      /** Told when the push (of the first version pushed) has reached every node it could. */
      onPushed?: () => void;
    } = {},
): Promise<{ cluster: Cluster; push: PushResult[] }> {
  const pushOptions = {
    ...(options.takeOver ? { takeOver: options.takeOver } : {}),
    ...(options.only ? { only: options.only } : {}),
    ...(options.order ? { order: options.order } : {}),
  };
  await deps.beforePush?.(ns, committed);
  // The answer is this change's own version; `pushCluster` waits out a planned switchover
  // under way and pushes the latest stored topology (see latestAfterSwitchover).
  let cluster = committed;
  const refold = async () =>
    (await updateTopology(deps, ns, cluster.name, (c) => c, options)).cluster;
  for (let i = 0; i < MAX_REFOLDS; i++) {
    if (recordedMoves(cluster).length === 0) break;
    if ((await completedMoves(deps, ns, cluster)).length === 0) break;
    cluster = await refold();
  }
  assertStillHeld(options.signal);
  let push = await pushCluster(deps, ns, cluster, pushOptions);
  options.onPushed?.();
  for (let i = 0; i < MAX_REFOLDS; i++) {
    if (recordedMoves(cluster).length === 0) break;
    if ((await completedMoves(deps, ns, cluster)).length === 0) break;
    cluster = await refold();
    assertStillHeld(options.signal);
    push = await pushCluster(deps, ns, cluster, pushOptions);
  }
  return { cluster, push };
}

/**
 * Commits the completed migrations alone (no other change) and pushes the result; the
 * stored cluster when there is nothing to fold. Probe rounds call it before anything else.
 */
export async function foldCompletedMigrations(
  deps: OpsDeps,
  ns: string,
  name: string,
  options: CommitOptions = {},
): Promise<{ cluster: Cluster; folded: FoldedMove[]; push: PushResult[] }> {
  const stored = await deps.store.getCluster(ns, name);
  if ((await completedMoves(deps, ns, stored.cluster)).length === 0) {
    return { cluster: stored.cluster, folded: [], push: [] };
  }
  let folded: FoldedMove[] = [];
  const updated = await updateTopology(deps, ns, name, (c) => c, {
    ...options,
    onFolded: (moves) => {
      folded = [...folded, ...moves];
      options.onFolded?.(moves);
    },
  });
  if (folded.length === 0) return { cluster: updated.cluster, folded, push: [] };
  const pushed = await pushCommitted(deps, ns, updated.cluster, options);
  return { cluster: pushed.cluster, folded, push: pushed.push };
}

/** Commits what `compute` makes of the stored topology, through `updateTopology`. */
async function commitComputed<T>(
  deps: OpsDeps,
  ns: string,
  name: string,
  compute: (cluster: Cluster) => { cluster: Cluster; result: T },
  options: CommitOptions,
): Promise<{ updated: ClusterUpdate; result: T }> {
  let result: T | undefined;
  const updated = await updateTopology(
    deps,
    ns,
    name,
    (current) => {
      const next = compute(current);
      result = next.result;
      return next.cluster;
    },
    options,
  );
  return { updated, result: result as T };
}

/** The shape of every topology change: commit through `updateTopology`, then push. */
export async function changeTopology<T>(
  deps: OpsDeps,
  ns: string,
  name: string,
  compute: (cluster: Cluster) => { cluster: Cluster; result: T },
  options: CommitOptions = {},
): Promise<Changed<T>> {
  const { updated, result } = await commitComputed(deps, ns, name, compute, options);
  const pushed = await pushCommitted(deps, ns, updated.cluster, options);
  return { cluster: pushed.cluster, push: pushed.push, result };
}

/**
 * `changeTopology` for a change that adds nodes: the nodes an admin took over with `force`
 * (`assertNodesMayJoin`) are pushed even though they answer as another topology's node. Only
 * this first push may: once it set the node's id, every later push sees its own id. If it
 * fails (or the process dies before it), later pushes still refuse that node and say so;
 * removing it and adding it again with `force` retries the take-over.
 */
export async function changeTopologyJoining<T>(
  deps: OpsDeps,
  ns: string,
  name: string,
  compute: (cluster: Cluster) => { cluster: Cluster; result: T },
  takenOver: ReadonlySet<string>,
): Promise<Changed<T>> {
  if (takenOver.size === 0) return changeTopology(deps, ns, name, compute);
  const { updated, result } = await commitComputed(deps, ns, name, compute, {});
  const takeOver = new Set(
    allNodes(updated.cluster)
      .filter((n) => takenOver.has(canonicalAddr(n.addr)))
      .map((n) => n.id),
  );
  // Pushed as every change is (a migration completed since the commit is folded first); a
  // re-fold's push may take the node over too: it is this request's node.
  const pushed = await pushCommitted(deps, ns, updated.cluster, { takeOver });
  return { cluster: pushed.cluster, push: pushed.push, result };
}

export async function addShard(
  deps: OpsDeps,
  ns: string,
  name: string,
  input: {
    nodes: string[];
    password: string;
    skipVersionCheck?: boolean;
    force?: boolean;
    zones?: ZoneMap;
  },
) {
  // Nodes may be added before they are started: only a node that answers is judged.
  if (!input.skipVersionCheck) {
    await assertKvrocksVersions(input.nodes, input.password, {
      timeoutMs: deps.nodeTimeoutMs,
      allowUnreachable: true,
    });
  }
  const { cluster: current } = await deps.store.getCluster(ns, name);
  const takenOver = await assertNodesMayJoin(
    deps,
    { namespace: ns, cluster: name },
    input.nodes,
    input.password,
    { current, force: input.force ?? false },
  );
  return changeTopologyJoining(
    deps,
    ns,
    name,
    (c) => ({
      cluster: withShardAdded(c, input.nodes, input.password, deps.now(), input.zones),
      result: undefined,
    }),
    takenOver,
  );
}

export async function removeShard(deps: OpsDeps, ns: string, name: string, index: number) {
  // Removing renumbers the shards after it, and tasks record shards by index.
  await assertNoActiveTasks(deps.store, ns, name, `remove shard ${index}`);
  return changeTopology(deps, ns, name, (c) => ({
    cluster: withShardRemoved(c, index),
    result: undefined,
  }));
}

export async function addNode(
  deps: OpsDeps,
  ns: string,
  name: string,
  index: number,
  input: {
    addr: string;
    role: NodeRole;
    password: string;
    skipVersionCheck?: boolean;
    force?: boolean;
    zone?: string | undefined;
  },
): Promise<Changed<ClusterNode>> {
  if (!input.skipVersionCheck) {
    await assertKvrocksVersions([input.addr], input.password, {
      timeoutMs: deps.nodeTimeoutMs,
      allowUnreachable: true,
      field: "addr",
    });
  }
  const { cluster: current } = await deps.store.getCluster(ns, name);
  const takenOver = await assertNodesMayJoin(
    deps,
    { namespace: ns, cluster: name },
    [input.addr],
    input.password,
    { current, force: input.force ?? false },
  );
  return changeTopologyJoining(
    deps,
    ns,
    name,
    (c) => {
      const { cluster, node } = withNodeAdded(c, index, input, deps.now());
      return { cluster, result: node };
    },
    takenOver,
  );
}

export function removeNode(deps: OpsDeps, ns: string, name: string, index: number, nodeId: string) {
  return changeTopology(deps, ns, name, (c) => ({
    cluster: withNodeRemoved(c, index, nodeId),
    result: undefined,
  }));
}

/** Slot-only move of one range or several (one source shard): one CAS, version +1 once. */
export function moveSlotsOnly(
  deps: OpsDeps,
  ns: string,
  name: string,
  ranges: SlotRange | readonly SlotRange[],
  target: number,
) {
  const list = Array.isArray(ranges) ? ranges : [ranges as SlotRange];
  return changeTopology(deps, ns, name, (c) => ({
    cluster: withRangesMoved(c, list, target),
    result: undefined,
  }));
}

/**
 * Records that the owner of `range` migrates it to `target` (no version change). Done before
 * MIGRATE is sent, so a crash in between leaves a record the next probe round resumes.
 */
export async function recordMigration(
  deps: OpsDeps,
  ns: string,
  name: string,
  range: SlotRange,
  target: number,
  options: { fence?: Fence } = {},
): Promise<Cluster> {
  const { cluster } = await deps.store.getCluster(ns, name);
  if (recordsMigration(cluster, shardOwning(cluster, range), range, target)) return cluster;
  const recorded = await deps.store.updateCluster(
    ns,
    name,
    (c) => withMigrationStarted(c, range, target),
    options,
  );
  return recorded.cluster;
}

/** Clears shard `source`'s migration record if it still is `range` to `target`. */
export async function clearMigration(
  deps: OpsDeps,
  ns: string,
  name: string,
  source: number,
  range: SlotRange,
  target: number,
  options: { fence?: Fence } = {},
): Promise<void> {
  const { cluster } = await deps.store.getCluster(ns, name);
  if (!recordsMigration(cluster, source, range, target)) return;
  await deps.store.updateCluster(
    ns,
    name,
    (c) => (recordsMigration(c, source, range, target) ? withMigrationCleared(c, source) : c),
    options,
  );
}

/** `CLUSTERX MIGRATE <range> <target master id>` on the source master; throws the node's error. */
export async function sendMigrate(
  deps: OpsDeps,
  cluster: Cluster,
  source: number,
  range: SlotRange,
  target: number,
): Promise<void> {
  const sourceMaster = masterOf(shardAt(cluster, source))!;
  const targetMaster = masterOf(shardAt(cluster, target))!;
  await withNode(
    sourceMaster.addr,
    { password: sourceMaster.password, timeoutMs: deps.nodeTimeoutMs },
    (client) => client.migrate(range, targetMaster.id),
  );
}

/**
 * Pushes the stored topology, after folding in completed migrations. Without `force` a node
 * takes it only if it is behind. With `force` the version is raised by a compare-and-swap
 * above the stored one and above every version a node reports, and pushed normally: every
 * node re-applies it, and nothing ever pushes an older version over a newer one (Kvrocks's
 * own `force` would apply any version, and roll back a node a newer change reached).
 */
export async function syncCluster(
  deps: OpsDeps,
  ns: string,
  name: string,
  force: boolean,
  options: CommitOptions = {},
): Promise<PushResult[]> {
  if (!force) {
    const { cluster } = await foldCompletedMigrations(deps, ns, name, options);
    assertStillHeld(options.signal);
    return pushCluster(deps, ns, cluster);
  }
  const updated = await updateTopology(
    deps,
    ns,
    name,
    async (current) => {
      const highest = Math.max(current.version, ...(await nodeVersions(deps, current)));
      return { ...current, version: highest + 1 };
    },
    options,
  );
  return (await pushCommitted(deps, ns, updated.cluster, options)).push;
}

/** The versions the cluster's nodes report; a node that does not answer is left out. */
async function nodeVersions(deps: OpsDeps, cluster: Cluster): Promise<number[]> {
  const versions = await Promise.all(
    cluster.shards
      .flatMap((s) => s.nodes)
      .map((node) =>
        withNode(node.addr, { password: node.password, timeoutMs: deps.nodeTimeoutMs }, (c) =>
          c.version(),
        ).catch(() => -1),
      ),
  );
  return versions;
}

/**
 * Pushes the stored topology to one node of the cluster, named by address or id. With
 * `force` (a node that claims a newer version) the version is raised above every node's, as
 * `syncCluster` does, and so reaches every node: a forced push never goes backwards.
 */
export async function syncNode(
  deps: OpsDeps,
  ns: string,
  name: string,
  node: string,
  force: boolean,
): Promise<PushResult[]> {
  const { cluster: stored } = await deps.store.getCluster(ns, name);
  const addr = canonicalAddr(node);
  const found = allNodes(stored).find((n) => canonicalAddr(n.addr) === addr || n.id === node);
  if (!found) throw notFound(`node ${node} is not in cluster ${ns}/${name}`);
  if (force) return syncCluster(deps, ns, name, true);
  const { cluster } = await foldCompletedMigrations(deps, ns, name);
  return pushCluster(deps, ns, cluster, { only: new Set([found.id]) });
}
