// Replacing a node with another: NEW joins as a replica of OLD's shard, catches up, takes
// over by planned switchover if OLD is master, then OLD is removed. The request does the join
// (with add-node's ownership checks) and writes a `replace_node` task; probe rounds (and the
// request, once) advance it one step at a time. Every step is judged again from the stored
// topology and the nodes, and every task write compares the task's revision, so a process
// that dies anywhere leaves a state the next round finishes from:
//   join:      before the task exists. A crash after it leaves NEW a plain replica of the
//              shard: the same request again finds it there and adopts it.
//   catch_up:  reads only; a crash repeats the reads.
//   switch:    the switchover's own commit decides. A crash after it and before the task
//              moved on: the next step sees OLD no longer master and goes on to remove.
//   remove:    a crash after the removal's commit: the next step sees OLD gone and finishes.
import { conflict, errorMessage, exists, invalid, isKvcError, notFound } from "../errors.js";
import { withNode } from "../kvrocks/index.js";
import {
  allNodes,
  type Cluster,
  type ClusterNode,
  canonicalAddr,
  isActive,
  masterOf,
  type ReplaceState,
  Task,
} from "../model/index.js";
import type { Fence } from "../store/index.js";
import { assertNodesMayJoin, checkNodeIsFree } from "./checks.js";
import { withNodeAdded, withNodeRemoved } from "./compute.js";
import type { OpsDeps } from "./deps.js";
import { failoverShard } from "./failover.js";
import {
  getTaskDoc,
  newTaskId,
  pruneTaskHistory,
  readableTaskDocs,
  type StoredTask,
  saveTask,
  saveTaskStep,
  TaskRaceLost,
} from "./tasks.js";
import { assertStillHeld, changeTopology, changeTopologyJoining } from "./topology-changes.js";
import { assertKvrocksVersions } from "./versions.js";
import { pickReplicaShard } from "./zones.js";

/**
 * NEW has caught up once it follows the shard's master with its link up, no full sync under
 * way, and its `sequence` (RocksDB's, what Kvrocks's replication offsets count) at most this
 * far behind the master's. The planned switchover then waits for it to reach the master's
 * final sequence exactly; this bound only keeps it from starting while NEW is far behind.
 */
export const REPLACE_CATCHUP_SEQUENCES = 1000;

/** Planned switchovers undone (NEW did not catch up in time) before the task gives up. */
export const REPLACE_MAX_SWITCH_ATTEMPTS = 3;

export interface ReplaceRequest {
  /** OLD: its id, or its address. */
  node: string;
  /** NEW's address. */
  addr: string;
  zone?: string | undefined;
  /** NEW's requirepass; OLD's when absent. */
  password?: string | undefined;
  skipVersionCheck?: boolean;
  /** An admin's: take NEW over though a cluster no longer stored left it initialised. */
  force?: boolean;
}

function locate(cluster: Cluster, id: string): { shard: number; node: ClusterNode } | null {
  for (const [shard, s] of cluster.shards.entries()) {
    const node = s.nodes.find((n) => n.id === id);
    if (node) return { shard, node };
  }
  return null;
}

/** OLD by id or address. */
function findOld(cluster: Cluster, ns: string, wanted: string) {
  const addr = canonicalAddr(wanted);
  const node = allNodes(cluster).find((n) => n.id === wanted || canonicalAddr(n.addr) === addr);
  if (!node) throw notFound(`node ${wanted} is not in cluster ${ns}/${cluster.name}`);
  return locate(cluster, node.id)!;
}

async function answers(node: ClusterNode, timeoutMs: number): Promise<boolean> {
  return withNode(node.addr, { password: node.password, timeoutMs }, (c) => c.replicationInfo())
    .then(() => true)
    .catch(() => false);
}

/**
 * Checks the request, joins NEW to OLD's shard and writes the task (running, step catch_up).
 * The same request again, while its task is active, answers that task; after a crash between
 * the join and the task's write it finds NEW in the shard and writes the task then.
 */
export async function replaceNode(
  deps: OpsDeps,
  ns: string,
  cl: string,
  request: ReplaceRequest,
): Promise<Task> {
  const { cluster } = await deps.store.getCluster(ns, cl);
  const old = findOld(cluster, ns, request.node);
  const addr = canonicalAddr(request.addr);
  if (canonicalAddr(old.node.addr) === addr) {
    throw invalid(`node ${request.addr} is the node being replaced`, "with");
  }
  const tasks = await readableTaskDocs(deps.store, ns, cl);
  const mine = tasks.find(
    (d) =>
      isActive(d.task) &&
      d.task.replace?.old_id === old.node.id &&
      canonicalAddr(d.task.replace.new_addr) === addr,
  );
  if (mine) return mine.task;
  const busy = tasks.find(
    (d) => isActive(d.task) && d.task.kind === "replace_node" && d.task.replace !== null,
  );
  if (busy) {
    const r = busy.task.replace!;
    const at = locate(cluster, r.old_id);
    if (r.old_id === old.node.id || at?.shard === old.shard || canonicalAddr(r.new_addr) === addr)
      throw conflict(
        `task ${busy.task.id} is replacing ${r.old_addr} with ${r.new_addr} in the same shard: wait for it, or cancel it`,
      );
  }
  const shard = cluster.shards[old.shard]!;
  const present = allNodes(cluster).find((n) => canonicalAddr(n.addr) === addr);
  let joined: ClusterNode;
  if (present) {
    // Adopted only as a replica of OLD's shard (a join whose task was never written).
    const inShard = shard.nodes.some((n) => n.id === present.id);
    if (!inShard || present.role !== "slave")
      throw exists(
        `node ${request.addr} is already ${present.role === "master" ? "a master" : "a node"} of cluster ${ns}/${cl}${inShard ? "" : ` in another shard than ${old.node.addr}'s`}`,
      );
    joined = present;
  } else {
    if (shard.nodes.length === 1 && !(await answers(old.node, deps.nodeTimeoutMs))) {
      throw conflict(
        `node ${old.node.addr} is the only node of shard ${old.shard} and does not answer: ${request.addr} would have nothing to copy (start ${old.node.addr} again first)`,
      );
    }
    joined = await join(deps, ns, cl, old.node, {
      ...request,
      addr,
      password: request.password ?? old.node.password,
    });
  }
  const now = deps.now();
  const at = locate(cluster, old.node.id)!;
  const task = Task.parse({
    id: newTaskId(now),
    kind: "replace_node",
    state: "running",
    source: at.shard,
    target: at.shard,
    ranges: [],
    slots_total: 0,
    created_at: now,
    started_at: now,
    replace: {
      old_id: old.node.id,
      old_addr: old.node.addr,
      new_id: joined.id,
      new_addr: joined.addr,
      step: "catch_up",
    } satisfies Omit<ReplaceState, "switch_attempts" | "waiting">,
  });
  await saveTask(deps.store, ns, cl, task, "absent");
  deps.log
    .child({ namespace: ns, cluster: cl })
    .info({ task: task.id, old: old.node.addr, new: joined.addr }, "replace: started");
  return task;
}

/**
 * NEW joins OLD's shard as a replica, as add-node joins one: asked who it is first (an
 * answering node of another cluster is refused), and it must answer as a fresh cluster-mode
 * node (a replacement that cannot copy the shard's data replaces nothing).
 */
async function join(
  deps: OpsDeps,
  ns: string,
  cl: string,
  old: ClusterNode,
  input: { addr: string; password: string; zone?: string | undefined } & ReplaceRequest,
): Promise<ClusterNode> {
  const { cluster: current } = await deps.store.getCluster(ns, cl);
  const takenOver = await assertNodesMayJoin(
    deps,
    { namespace: ns, cluster: cl },
    [input.addr],
    input.password,
    { current, force: input.force ?? false },
  );
  if (!takenOver.has(input.addr)) {
    const check = await checkNodeIsFree(input.addr, input.password, deps.nodeTimeoutMs);
    if (check.problem) throw invalid(`node ${input.addr} ${check.problem}`, "with");
  }
  if (!input.skipVersionCheck) {
    await assertKvrocksVersions([input.addr], input.password, {
      timeoutMs: deps.nodeTimeoutMs,
      allowUnreachable: false,
      field: "with",
    });
  }
  const changed = await changeTopologyJoining(
    deps,
    ns,
    cl,
    (c) => {
      // OLD's shard as stored now: indexes shift when shards are removed, ids do not.
      const at = locate(c, old.id);
      if (!at) throw conflict(`node ${old.addr} was removed from cluster ${ns}/${cl} meanwhile`);
      const { cluster, node } = withNodeAdded(
        c,
        at.shard,
        { addr: input.addr, role: "slave", password: input.password, zone: input.zone },
        deps.now(),
      );
      return { cluster, result: node };
    },
    takenOver,
  );
  return changed.result;
}

export interface ReplaceEvent {
  task: string;
  event: string;
  detail?: string;
}

interface Ctx {
  deps: OpsDeps;
  ns: string;
  cl: string;
  fence: Fence | undefined;
  signal: AbortSignal | undefined;
  events: ReplaceEvent[];
}

const save = saveTaskStep;

async function finish(ctx: Ctx, doc: StoredTask, state: Task["state"], error: string | null) {
  const task: Task = { ...doc.task, state, error, finished_at: ctx.deps.now() };
  await save(ctx, doc, task);
  ctx.events.push({ task: task.id, event: state, ...(error ? { detail: error } : {}) });
  await pruneTaskHistory(ctx.deps.store, ctx.ns, ctx.cl, { fence: ctx.fence }).catch(() => 0);
}

const withReplace = (task: Task, change: Partial<ReplaceState>): Task => ({
  ...task,
  replace: { ...task.replace!, ...change },
});

/** Notes what the task waits for, only when that changed: a waiting round writes nothing. */
async function wait(ctx: Ctx, doc: StoredTask, why: string): Promise<void> {
  if (doc.task.replace?.waiting === why) return;
  await save(ctx, doc, withReplace(doc.task, { waiting: why }));
}

/** Why NEW has not caught up with the shard's master yet; null once it has. */
async function lagBehind(deps: OpsDeps, master: ClusterNode, fresh: ClusterNode) {
  const read = (n: ClusterNode) =>
    withNode(n.addr, { password: n.password, timeoutMs: deps.nodeTimeoutMs }, (c) =>
      c.replicationInfo(),
    );
  const [m, r] = await Promise.all([
    read(master).catch((err: unknown) => errorMessage(err)),
    read(fresh).catch((err: unknown) => errorMessage(err)),
  ]);
  if (typeof m === "string") return `the shard's master ${master.addr} does not answer (${m})`;
  if (typeof r === "string") return `${fresh.addr} does not answer (${r})`;
  if (r.role !== "slave") return `${fresh.addr} answers as ${r.role}, not as a replica yet`;
  if (r.syncInProgress) return `${fresh.addr} is in a full sync with ${master.addr}`;
  if (!r.masterLinkUp) return `${fresh.addr} has its link to ${master.addr} down`;
  if (m.sequence - r.sequence > REPLACE_CATCHUP_SEQUENCES)
    return `${fresh.addr} is more than ${REPLACE_CATCHUP_SEQUENCES} writes behind ${master.addr}`;
  return null;
}

/** One replace task as far as it can go now. */
async function stepReplace(ctx: Ctx, first: StoredTask): Promise<void> {
  let doc = first;
  for (let i = 0; i < 4; i++) {
    const r = doc.task.replace!;
    if (doc.task.cancel_requested) {
      const left =
        r.step === "remove" ? `${r.old_addr} stays a replica` : `${r.new_addr} stays a replica`;
      return finish(ctx, doc, "cancelled", `cancelled at step ${r.step}: ${left}`);
    }
    const { cluster } = await ctx.deps.store.getCluster(ctx.ns, ctx.cl);
    const oldAt = locate(cluster, r.old_id);
    const newAt = locate(cluster, r.new_id);
    if (!newAt) return finish(ctx, doc, "failed", `${r.new_addr} was removed from the cluster`);
    if (!oldAt) {
      ctx.events.push({ task: doc.task.id, event: "removed", detail: r.old_addr });
      return finish(ctx, doc, "succeeded", null);
    }
    if (oldAt.shard !== newAt.shard)
      return finish(ctx, doc, "failed", `${r.new_addr} is no longer in ${r.old_addr}'s shard`);
    const shard = cluster.shards[oldAt.shard]!;
    const master = masterOf(shard)!;
    if (r.step === "catch_up") {
      if (master.id !== r.new_id) {
        assertStillHeld(ctx.signal);
        const why = await lagBehind(ctx.deps, master, newAt.node);
        if (why) return wait(ctx, doc, why);
      }
      ctx.events.push({ task: doc.task.id, event: "caught_up", detail: r.new_addr });
      const next = master.id === r.old_id ? "switch" : "remove";
      doc = await save(ctx, doc, withReplace(doc.task, { step: next, waiting: null }));
      continue;
    }
    if (r.step === "switch") {
      if (master.id !== r.old_id) {
        doc = await save(ctx, doc, withReplace(doc.task, { step: "remove", waiting: null }));
        continue;
      }
      assertStillHeld(ctx.signal);
      try {
        // A live OLD is switched over in order (catch-up first, undone if NEW does not
        // reach its final sequence); a dead one is failed over by the data rules.
        await failoverShard(
          ctx.deps,
          {
            ns: ctx.ns,
            cluster: ctx.cl,
            shard: oldAt.shard,
            preferredNodeId: r.new_id,
            reason: `replace ${r.old_addr} with ${r.new_addr} (task ${doc.task.id})`,
          },
          { fence: ctx.fence },
        );
      } catch (err) {
        if (!isKvcError(err, "conflict") && !isKvcError(err, "invalid")) throw err;
        const attempts = r.switch_attempts + 1;
        const why = `switchover to ${r.new_addr} not done: ${errorMessage(err)}`;
        ctx.events.push({ task: doc.task.id, event: "switch_refused", detail: why });
        if (attempts >= REPLACE_MAX_SWITCH_ATTEMPTS)
          return finish(
            ctx,
            doc,
            "failed",
            `${why} (${attempts} attempts); ${r.new_addr} stays a replica and ${r.old_addr} master: the same replace again retries`,
          );
        await save(
          ctx,
          doc,
          withReplace(doc.task, { step: "catch_up", switch_attempts: attempts, waiting: why }),
        );
        return;
      }
      ctx.events.push({ task: doc.task.id, event: "switched", detail: r.new_addr });
      doc = await save(ctx, doc, withReplace(doc.task, { step: "remove", waiting: null }));
      continue;
    }
    // remove
    if (master.id === r.old_id) {
      // Failed back meanwhile (an operator, the probe): switch again before removing.
      doc = await save(ctx, doc, withReplace(doc.task, { step: "switch", waiting: null }));
      continue;
    }
    assertStillHeld(ctx.signal);
    try {
      await changeTopology(
        ctx.deps,
        ctx.ns,
        ctx.cl,
        (c) => {
          const at = locate(c, r.old_id);
          if (!at) throw notFound(`${r.old_addr} already removed`);
          return { cluster: withNodeRemoved(c, at.shard, r.old_id), result: undefined };
        },
        { fence: ctx.fence, signal: ctx.signal },
      );
    } catch (err) {
      // Removed by a commit of its own meanwhile (another advancer, an operator): done.
      if (!isKvcError(err, "not_found")) throw err;
    }
    ctx.events.push({ task: doc.task.id, event: "removed", detail: r.old_addr });
    return finish(ctx, doc, "succeeded", null);
  }
}

/**
 * One step of every active replace task of the cluster. An error is recorded in the task and
 * the step is tried again next round; a node that keeps not answering is what `waiting`
 * shows, never a reason to fail (an operator cancels).
 */
export async function advanceReplacements(
  deps: OpsDeps,
  ns: string,
  cl: string,
  options: { fence?: Fence; signal?: AbortSignal; tasks?: StoredTask[] } = {},
): Promise<ReplaceEvent[]> {
  const ctx: Ctx = {
    deps,
    ns,
    cl,
    fence: options.fence,
    signal: options.signal,
    events: [],
  };
  const docs = (options.tasks ?? (await readableTaskDocs(deps.store, ns, cl))).filter(
    (d) => d.task.kind === "replace_node" && d.task.replace !== null && isActive(d.task),
  );
  for (const doc of docs) {
    try {
      await stepReplace(ctx, doc);
    } catch (err) {
      if (err instanceof TaskRaceLost) continue;
      const message = errorMessage(err);
      ctx.events.push({ task: doc.task.id, event: "error", detail: message });
      if (ctx.signal?.aborted) continue;
      try {
        const fresh = await getTaskDoc(deps.store, ns, cl, doc.task.id);
        if (isActive(fresh.task))
          await save(ctx, fresh, {
            ...fresh.task,
            error_count: fresh.task.error_count + 1,
            last_error: message,
          });
      } catch (inner) {
        if (!(inner instanceof TaskRaceLost))
          ctx.events.push({ task: doc.task.id, event: "error", detail: errorMessage(inner) });
      }
    }
  }
  return ctx.events;
}

/**
 * Adds a replica to the shard its zone suits best (`pickReplicaShard`: one with no node in
 * that zone, then the one with the fewest nodes), judged on the topology the commit builds on.
 * Checked as add-node checks a node (version, who it says it is).
 */
export async function addReplica(
  deps: OpsDeps,
  ns: string,
  cl: string,
  input: {
    addr: string;
    zone?: string | undefined;
    password: string;
    skipVersionCheck?: boolean;
    force?: boolean;
  },
): Promise<{ shard: number; node: ClusterNode; cluster: Cluster }> {
  if (!input.skipVersionCheck) {
    await assertKvrocksVersions([input.addr], input.password, {
      timeoutMs: deps.nodeTimeoutMs,
      allowUnreachable: true,
      field: "addr",
    });
  }
  const { cluster: current } = await deps.store.getCluster(ns, cl);
  if (current.shards.length === 0) throw conflict(`cluster ${ns}/${cl} has no shard to join`);
  const takenOver = await assertNodesMayJoin(
    deps,
    { namespace: ns, cluster: cl },
    [input.addr],
    input.password,
    { current, force: input.force ?? false },
  );
  const changed = await changeTopologyJoining(
    deps,
    ns,
    cl,
    (c) => {
      const shard = pickReplicaShard(c, input.zone);
      const { cluster, node } = withNodeAdded(
        c,
        shard,
        { addr: input.addr, role: "slave", password: input.password, zone: input.zone },
        deps.now(),
      );
      return { cluster, result: { shard, node } };
    },
    takenOver,
  );
  return { ...changed.result, cluster: changed.cluster };
}
