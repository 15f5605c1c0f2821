// A task's migration settings on its source master, and whether its range in flight
// converges. Kvrocks 2.10.1 (CONFIG GET on the binary) has `migrate-speed` (keys/s, 0 = no
// limit, default 4096), `migrate-batch-size-kb` (default 16) and `migrate-batch-rate-limit-mb`
// (default 16, 0 = none); the batch pair applies to `migrate-type raw-key-value` only (its
// default is `redis-command`, paced by `migrate-speed`). CONFIG GET takes exact names or `*`.
import { withNode } from "../kvrocks/index.js";
import type { Cluster, ClusterNode, Task } from "../model/index.js";
import type { OpsDeps } from "../ops/index.js";

/** The task fields and the node settings they set. */
export const SETTINGS = [
  ["speed", "migrate-speed"],
  ["batch_size_kb", "migrate-batch-size-kb"],
  ["batch_rate_limit_mb", "migrate-batch-rate-limit-mb"],
] as const;

/** The settings this task wants on its source: name -> value. */
export function wantedSettings(task: Task): Map<string, string> {
  const out = new Map<string, string>();
  for (const [field, name] of SETTINGS) {
    const value = task[field];
    if (value !== null) out.set(name, String(value));
  }
  return out;
}

function onNode<T>(
  deps: OpsDeps,
  node: Pick<ClusterNode, "addr" | "password">,
  fn: (client: import("../kvrocks/index.js").KvrocksClient) => Promise<T>,
): Promise<T> {
  const options = { password: node.password, timeoutMs: deps.nodeTimeoutMs };
  const use = deps.nodePool ? deps.nodePool.use.bind(deps.nodePool) : withNode;
  return use(node.addr, options, fn);
}

/** Reads the values the node has now for `names` (a name it lacks is left out). */
export async function readSettings(
  deps: OpsDeps,
  node: ClusterNode,
  names: Iterable<string>,
): Promise<Record<string, string>> {
  return onNode(deps, node, async (client) => {
    const out: Record<string, string> = {};
    for (const name of names) {
      const value = await client.configGet(name);
      if (value !== null) out[name] = value;
    }
    return out;
  });
}

export async function writeSettings(
  deps: OpsDeps,
  node: Pick<ClusterNode, "addr" | "password">,
  values: ReadonlyMap<string, string> | Record<string, string>,
): Promise<void> {
  const entries = values instanceof Map ? [...values] : Object.entries(values);
  await onNode(deps, node, async (client) => {
    for (const [name, value] of entries) await client.configSet(name, value);
  });
}

/** Where the source's write counter stands, and how fast it copies now (keys/s, 0 = no limit). */
export async function sampleSource(
  deps: OpsDeps,
  node: ClusterNode,
): Promise<{ sequence: number; copy: number }> {
  return onNode(deps, node, async (client) => {
    const info = await client.info();
    const speed = Number((await client.configGet("migrate-speed")) ?? "0");
    return { sequence: info.sequence, copy: Number.isFinite(speed) ? speed : 0 };
  });
}

/** A range is judged only after it has migrated this long (a short one needs no verdict). */
export const CONVERGENCE_AFTER_MS = 10_000;

/**
 * The range's write rate, estimated as the source master's writes/s (its RocksDB sequence)
 * times the range's share of the source's slots: keys spread evenly over slots. Above the
 * copy rate Kvrocks keeps sending increments and never reaches the final phase.
 */
export function convergence(input: {
  rangeSlots: number;
  sourceSlots: number;
  from: { at: number; sequence: number; copy_keys_per_s: number };
  now: number;
  sequence: number;
}): { range_writes_per_s: number; copy_keys_per_s: number; converging: boolean } | null {
  const { from } = input;
  const seconds = (input.now - from.at) / 1000;
  if (seconds * 1000 < CONVERGENCE_AFTER_MS || input.sourceSlots <= 0) return null;
  const share = input.rangeSlots / input.sourceSlots;
  const rate = ((input.sequence - from.sequence) / seconds) * share;
  const copy = from.copy_keys_per_s;
  return {
    range_writes_per_s: Math.round(rate),
    copy_keys_per_s: copy,
    converging: copy === 0 || rate < copy,
  };
}

/** The cluster node with this id (to reach it with its password), if still in the cluster. */
export function nodeById(cluster: Cluster, id: string): ClusterNode | undefined {
  for (const shard of cluster.shards) {
    const node = shard.nodes.find((n) => n.id === id);
    if (node) return node;
  }
  return undefined;
}
