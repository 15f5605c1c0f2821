// Acknowledged writes survive a migration's slow or interrupted end, on real Kvrocks nodes
// (KVROCKS_BIN) or simulated ones. Each test counts the writes a node acknowledged and reads
// every one back through the cluster at the end: the count of lost writes must be 0.
//   - a range slower than the migration timeout: the node finishes, a client writes to the
//     target, then a topology change (a new shard) is pushed;
//   - the source shard's master dies after the node moved the range and before the
//     controller completed it: the failover must not send MIGRATE again (the target would
//     clear the range and every write it accepted).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Task } from "../../lib/model/index.js";
import { masterOf } from "../../lib/model/index.js";
import { probeAllClusters } from "../../lib/probe/index.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import type { TestNode } from "../support/nodes.js";
import { sleep, tagsForSlots, tasksOf } from "./helpers.js";

let h: Harness;
const NS = "acked";

beforeAll(async () => {
  h = await startHarness({ label: "acked", env: { KVC_MIGRATION_TIMEOUT: "1500" } });
});
afterAll(async () => h?.close());

/** ~5 s for 100 keys on a real node (20 keys a second); the same on a simulated one. */
const SLOW = { config: { "migrate-speed": "20" }, simulator: { migrationDelayMs: 5000 } };

/** A cluster client: any node, follows MOVED, retries TRYAGAIN for a while. */
class Client {
  constructor(private readonly nodes: () => readonly TestNode[]) {}

  private at(addr: string): TestNode {
    const node = this.nodes().find((n) => n.addr === addr);
    if (!node) throw new Error(`MOVED to unknown node ${addr}`);
    return node;
  }

  async run(args: string[], start: string): Promise<unknown> {
    let addr = start;
    for (let hop = 0; hop < 20; hop++) {
      try {
        return await this.at(addr).call(...args);
      } catch (err) {
        const message = (err as Error).message;
        const moved = /^MOVED \d+ (\S+)/.exec(message);
        if (moved) {
          addr = moved[1]!;
          continue;
        }
        if (/^TRYAGAIN/.test(message)) {
          await sleep(100);
          continue;
        }
        throw err;
      }
    }
    throw new Error(`${args.join(" ")}: no answer after 20 tries`);
  }
}

async function round(): Promise<void> {
  const summary = await probeAllClusters({ ...h.runtime.ops, etcd: h.etcd }, h.settings);
  if (summary.errors.length > 0) throw new Error(JSON.stringify(summary.errors));
}

async function info(node: TestNode): Promise<string> {
  return String(await node.call("CLUSTER", "INFO"));
}

/** Keys of the slots in `first..first+count-1`, one per slot. */
function keysFor(first: number, count: number): string[] {
  const slots = Array.from({ length: count }, (_, i) => first + i);
  return [...tagsForSlots(slots).values()].map((tag) => `{${tag}}:k`);
}

async function lostOf(client: Client, start: string, acked: Map<string, string>) {
  const lost: string[] = [];
  for (const [key, value] of acked) {
    const read = await client.run(["GET", key], start).catch((e: Error) => `error: ${e.message}`);
    if (read !== value) lost.push(`${key}: ${String(read)}`);
  }
  return lost;
}

describe("a range slower than the migration timeout", () => {
  it("completes when the node says success; a write acknowledged after it survives the next push", async () => {
    const nodes = await h.startTestNodes(3, SLOW);
    const [a, b, spare] = nodes as [TestNode, TestNode, TestNode];
    const cluster = await h.createCluster(NS, "slow", [a, b], 1);
    const client = new Client(() => nodes);
    const acked = new Map<string, string>();
    for (const key of keysFor(100, 100)) {
      expect(await client.run(["SET", key, `v-${key}`], a.addr)).toBe("OK");
      acked.set(key, `v-${key}`);
    }

    const res = await h.request("POST", `/api/v1/namespaces/${NS}/clusters/slow/migrate`, {
      target: 1,
      slot: "100-199",
    });
    expect(res.status, res.text).toBe(202);

    // Rounds go on past the timeout while the node copies: the task is marked slow.
    let task: Task | undefined;
    await eventually(
      async () => {
        await round();
        [task] = await tasksOf(h, NS, "slow");
        return task?.slow === true || task?.state !== "running";
      },
      60_000,
      100,
    );
    const whenSlow = task;

    // The node finishes; a client writes to the moved range (acknowledged by the target).
    await eventually(async () => /migrating_state: ?success/.test(await info(a)), 60_000, 100);
    const late = keysFor(100, 10).map((k) => `${k}:after`);
    for (const key of late) {
      expect(await client.run(["SET", key, "late"], a.addr)).toBe("OK");
      acked.set(key, "late");
    }

    // A topology change is pushed (a new shard), then rounds run until the task ends.
    const added = await h.request("POST", `/api/v1/namespaces/${NS}/clusters/slow/shards`, {
      nodes: [spare.addr],
    });
    expect(added.status, added.text).toBe(201);
    await eventually(
      async () => {
        await round();
        [task] = await tasksOf(h, NS, "slow");
        return task?.state !== "running";
      },
      60_000,
      100,
    );
    // Every acknowledged write first: this is what a timed-out task used to lose.
    expect(await lostOf(client, a.addr, acked)).toEqual([]);
    expect(whenSlow).toMatchObject({ state: "running", slow: true, error: null });
    expect(task).toMatchObject({ state: "succeeded", done: ["100-199"] });
    const after = await h.cluster(NS, "slow");
    expect(after.shards[1]!.slot_ranges).toContainEqual({ start: 100, stop: 199 });
    expect(after.version).toBeGreaterThan(cluster.version);
    // And the range takes writes (not TRYAGAIN for good).
    const key = keysFor(150, 1)[0]!;
    expect(await client.run(["SET", key, "again"], a.addr)).toBe("OK");
  }, 180_000);
});

describe("a failover of the source shard mid-migration", () => {
  it("completes from the target's import state; the writes the target accepted stay", async () => {
    const nodes = await h.startTestNodes(4, SLOW);
    const cluster = await h.createCluster(NS, "fo", nodes, 2);
    const byAddr = (addr: string) => nodes.find((n) => n.addr === addr)!;
    const source = byAddr(masterOf(cluster.shards[0]!)!.addr);
    const replica = byAddr(cluster.shards[0]!.nodes.find((n) => n.role === "slave")!.addr);
    const target = byAddr(masterOf(cluster.shards[1]!)!.addr);
    const live = () => nodes.filter((n) => n.running);
    const client = new Client(live);
    const acked = new Map<string, string>();
    for (const key of keysFor(300, 100)) {
      expect(await client.run(["SET", key, `v-${key}`], source.addr)).toBe("OK");
      acked.set(key, `v-${key}`);
    }
    const sequence = async (n: TestNode) =>
      Number(/sequence:(\d+)/.exec(String(await n.call("INFO", "keyspace")))?.[1] ?? -1);
    const written = await sequence(source);
    await eventually(async () => (await sequence(replica)) >= written, 30_000, 100);
    // The probe has seen the master (one it never saw is not failed over on a guess).
    await round();

    // The handler sends MIGRATE; no probe round runs until the node finished the move.
    const res = await h.request("POST", `/api/v1/namespaces/${NS}/clusters/fo/migrate`, {
      target: 1,
      slot: "300-399",
    });
    expect(res.status, res.text).toBe(202);
    await eventually(async () => /import_state: ?success/.test(await info(target)), 60_000, 100);

    // Writes to the moved range land on the target and are acknowledged.
    for (const key of keysFor(300, 20).map((k) => `${k}:after`)) {
      expect(await client.run(["SET", key, "late"], source.addr)).toBe("OK");
      acked.set(key, "late");
    }

    // The source master dies before any round completed the move.
    await source.kill();
    await eventually(
      async () => {
        await round();
        const c = await h.cluster(NS, "fo");
        const tasks = await tasksOf(h, NS, "fo");
        return (
          masterOf(c.shards[0]!)!.id !== masterOf(cluster.shards[0]!)!.id &&
          tasks.every((t) => t.state !== "running" && t.state !== "queued")
        );
      },
      60_000,
      100,
    );
    expect(await lostOf(client, replica.addr, acked)).toEqual([]);
    const [task] = await tasksOf(h, NS, "fo");
    expect(task).toMatchObject({ state: "succeeded", done: ["300-399"] });
    const after = await h.cluster(NS, "fo");
    expect(after.shards[1]!.slot_ranges).toContainEqual({ start: 300, stop: 399 });
  }, 180_000);
});
