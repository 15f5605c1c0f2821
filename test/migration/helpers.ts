// Shared pieces of the migration tests: a loaded cluster on simulator nodes, probe rounds
// until a condition holds, and reads that follow MOVED like a cluster client.
import { Redis } from "ioredis";
import type { Cluster, Task } from "../../lib/model/index.js";
import { masterOf } from "../../lib/model/index.js";
import { probeAllClusters } from "../../lib/probe/index.js";
import { containsRange, countSlots } from "../../lib/slots/index.js";
import type { Harness } from "../support/harness.js";
import { keySlot } from "../support/kvrocks-sim/keyslot.js";
import type { SimNode } from "../support/kvrocks-sim/server.js";
import { holdsKey, type TestNode, writeKeys } from "../support/nodes.js";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One key name per wanted slot, via a hash tag: `{t123}:x` lands in the tag's slot. */
export function tagsForSlots(slots: Iterable<number>): Map<number, string> {
  const wanted = new Set(slots);
  const tags = new Map<number, string>();
  for (let i = 0; tags.size < wanted.size; i++) {
    const tag = `t${i}`;
    const slot = keySlot(tag);
    if (wanted.has(slot) && !tags.has(slot)) tags.set(slot, tag);
  }
  return tags;
}

export function slotsOf(ranges: string[]): number[] {
  return ranges.flatMap((r) => {
    const [a, b] = r.split("-").map(Number) as [number, number | undefined];
    return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
  });
}

export function ownerOf(cluster: Cluster, slot: number): number {
  return cluster.shards.findIndex((s) => containsRange(s.slot_ranges, { start: slot, stop: slot }));
}

export function nodeAt(h: Harness, addr: string): SimNode {
  const node = h.nodes.find((n) => n.addr === addr);
  if (!node) throw new Error(`no sim node at ${addr}`);
  return node;
}

export function masterNode(h: Harness, cluster: Cluster, shard: number): SimNode {
  return nodeAt(h, masterOf(cluster.shards[shard]!)!.addr);
}

/** Writes each key on the master that owns its slot; returns key -> value. */
export function load(h: Harness, cluster: Cluster, keys: string[]): Map<string, string> {
  const written = new Map<string, string>();
  for (const key of keys) {
    const value = `v-${key}`;
    masterNode(h, cluster, ownerOf(cluster, keySlot(key))).write(key, value);
    written.set(key, value);
  }
  return written;
}

export function testNodeAt(nodes: readonly TestNode[], addr: string): TestNode {
  const node = nodes.find((n) => n.addr === addr);
  if (!node) throw new Error(`no test node at ${addr}`);
  return node;
}

export function testMaster(nodes: readonly TestNode[], cluster: Cluster, shard: number): TestNode {
  return testNodeAt(nodes, masterOf(cluster.shards[shard]!)!.addr);
}

/** `load` for real or simulated nodes: each key written on the master owning its slot. */
export async function loadNodes(
  nodes: readonly TestNode[],
  cluster: Cluster,
  keys: string[],
  password?: string,
): Promise<Map<string, string>> {
  const written = new Map<string, string>();
  const perShard = new Map<number, [string, string][]>();
  for (const key of keys) {
    const value = `v-${key}`;
    written.set(key, value);
    const shard = ownerOf(cluster, keySlot(key));
    perShard.set(shard, [...(perShard.get(shard) ?? []), [key, value]]);
  }
  for (const [shard, entries] of perShard) {
    await writeKeys(testMaster(nodes, cluster, shard), entries, password);
  }
  return written;
}

/** The value a node serves for `key` (it must own the key's slot). */
export async function valueOn(node: TestNode, key: string): Promise<string | null> {
  return (await node.call("GET", key)) as string | null;
}

/** Whether `node` still stores `key`, whoever owns its slot now. */
export const storesKey = holdsKey;

export async function tasksOf(h: Harness, ns: string, cl: string): Promise<Task[]> {
  const res = await h.request("GET", `/api/v1/namespaces/${ns}/clusters/${cl}/tasks`);
  if (res.status !== 200) throw new Error(`list tasks: ${res.status} ${res.text}`);
  return res.body.data.tasks;
}

const finished = (t: Task) => !["queued", "running"].includes(t.state);

/** Probe rounds (the real function, with locks and fences) until every task has finished. */
export async function roundsUntilFinished(
  h: Harness,
  ns: string,
  cl: string,
  timeoutMs = 20_000,
): Promise<Task[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const tasks = await tasksOf(h, ns, cl);
    if (tasks.every(finished)) return tasks;
    if (Date.now() > deadline) throw new Error(`tasks not finished: ${JSON.stringify(tasks)}`);
    const summary = await probeAllClusters({ ...h.runtime.ops, etcd: h.etcd }, h.settings);
    if (summary.errors.length > 0) throw new Error(JSON.stringify(summary.errors));
    if (process.env.MIG_DEBUG)
      for (const r of summary.reports)
        if (r.cluster === cl && r.migrations.length) console.log(JSON.stringify(r.migrations));
    await sleep(20);
  }
}

/** Reads through the cluster like a client: ask any node, follow MOVED. */
export class ClusterReader {
  private readonly clients = new Map<string, Redis>();

  constructor(private readonly password = "") {}

  private client(addr: string): Redis {
    let c = this.clients.get(addr);
    if (!c) {
      const at = addr.lastIndexOf(":");
      c = new Redis({
        host: addr.slice(0, at),
        port: Number(addr.slice(at + 1)),
        protocol: 2,
        password: this.password || undefined,
        maxRetriesPerRequest: 0,
        enableReadyCheck: false,
        retryStrategy: () => null,
      });
      c.on("error", () => {});
      this.clients.set(addr, c);
    }
    return c;
  }

  async get(start: string, key: string): Promise<string | null> {
    let addr = start;
    for (let hop = 0; hop < 4; hop++) {
      try {
        return (await this.client(addr).call("GET", key)) as string | null;
      } catch (err) {
        const moved = /^MOVED \d+ (\S+)/.exec((err as Error).message);
        if (!moved) throw err;
        addr = moved[1]!;
      }
    }
    throw new Error(`${key}: too many redirects`);
  }

  close(): void {
    for (const c of this.clients.values()) c.disconnect();
  }
}

/** Each master's slot count. */
export const slotCounts = (cluster: Cluster) =>
  cluster.shards.map((s) => countSlots(s.slot_ranges));
