// Failover decisions that must not lose data: a master the probe never saw, a live but slow
// master failed over by hand, nodes holding a newer version than etcd. Runs on real Kvrocks
// when KVROCKS_BIN is set (npm run test:kvrocks), on the simulator otherwise.
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { masterOf } from "../../lib/model/index.js";
import { listHistory } from "../../lib/ops/index.js";
import { pushTopology } from "../../lib/topology/index.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import { nodeView, type TestNode } from "../support/nodes.js";
import { converged, keyFor, round, rounds } from "./helpers.js";

let h: Harness;
let master: TestNode;
let replica: TestNode;
let nodes: TestNode[];
const KEYS = 50;
const base = "/api/v1/namespaces/f/clusters/c";

beforeEach(async () => {
  h = await startHarness({ label: "fsafe", env: { KVC_PROBE_FAILURES: "3" } });
  nodes = await h.startTestNodes(2);
  const cluster = await h.createCluster("f", "c", nodes, 2);
  const masterAddr = masterOf(cluster.shards[0]!)!.addr;
  master = nodes.find((n) => n.addr === masterAddr)!;
  replica = nodes.find((n) => n.addr !== masterAddr)!;
  await linkedUp();
}, 60_000);
afterEach(async () => h.close());

async function linkedUp() {
  const cluster = await h.cluster("f", "c");
  const addr = cluster.shards[0]!.nodes.find((n) => n.role === "slave")!.addr;
  const node = nodes.find((n) => n.addr === addr)!;
  await eventually(
    async () => /master_link_status:up/.test(String(await node.call("INFO", "replication"))),
    30_000,
    50,
  );
}

const sequenceOf = async (node: TestNode) =>
  Number(/sequence:(\d+)/.exec(String(await node.call("INFO", "keyspace")))?.[1]);

async function keysLeft(node: TestNode): Promise<number> {
  let found = 0;
  for (let i = 0; i < KEYS; i++) if ((await node.call("GET", `key-${i}`)) === `v${i}`) found++;
  return found;
}

const replicaId = async () =>
  (await h.cluster("f", "c")).shards[0]!.nodes.find((n) => n.addr === replica.addr)!.id;

describe("a master the probe never saw", () => {
  /** No probe round at all: the replica is down while the master takes 50 writes, then the master dies. */
  async function writesUnseenThenMasterDies() {
    await replica.kill();
    for (let i = 0; i < KEYS; i++) expect(await master.call("SET", `key-${i}`, `v${i}`)).toBe("OK");
    await master.kill();
    await replica.restart();
  }

  it("does not have its empty replica promoted; force can, the returning master keeps its data otherwise", async () => {
    const before = await h.cluster("f", "c");
    await writesUnseenThenMasterDies();
    expect(await sequenceOf(replica)).toBe(0);

    await rounds(h, 5);
    const during = await h.cluster("f", "c");
    expect(during.version).toBe(before.version);
    expect(masterOf(during.shards[0]!)!.addr).toBe(master.addr);
    const health = await h.request("GET", `${base}/health`);
    expect(health.body.data.failover_blocked["0"]).toMatch(
      /has no data \(sequence 0\) and the probe never saw its master/,
    );
    const history = await listHistory(h.runtime.store, "f", "c");
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ outcome: "refused", shard: 0 });
    expect(history[0]!.reason).toMatch(/never saw its master/);

    // A manual failover needs the operator to name it with force.
    const refused = await h.request("POST", `${base}/shards/0/failover`, {
      preferred_node_id: await replicaId(),
    });
    expect(refused.status, refused.text).toBe(400);
    expect(refused.body.error.message).toMatch(/never saw its master.*repeat with force/);

    await master.restart();
    await rounds(h, 2);
    const after = await h.cluster("f", "c");
    expect(masterOf(after.shards[0]!)!.addr).toBe(master.addr);
    expect(after.version).toBe(before.version);
    expect(await keysLeft(master)).toBe(KEYS);
  }, 120_000);

  it("is failed over to the named replica with force", async () => {
    await writesUnseenThenMasterDies();
    const forced = await h.request("POST", `${base}/shards/0/failover`, {
      preferred_node_id: await replicaId(),
      force: true,
    });
    expect(forced.status, forced.text).toBe(200);
    expect(forced.body.data.new_master_id).toBe(await replicaId());
  }, 120_000);

  it("does not have a replica whose link it never saw up promoted, even one with data", async () => {
    await master.call("SET", "first", "1");
    const first = await sequenceOf(master);
    await eventually(async () => (await sequenceOf(replica)) >= first, 30_000, 50);
    await writesUnseenThenMasterDies();
    expect(await sequenceOf(replica)).toBeGreaterThan(0);
    const before = await h.cluster("f", "c");

    await rounds(h, 5);
    expect((await h.cluster("f", "c")).version).toBe(before.version);
    const health = await h.request("GET", `${base}/health`);
    expect(health.body.data.failover_blocked["0"]).toMatch(/link to its master never seen up/);
    await master.restart();
    await rounds(h, 2);
    expect(await keysLeft(master)).toBe(KEYS);
  }, 120_000);

  it("a new empty cluster whose master the probe saw still fails over when the master dies", async () => {
    const before = await h.cluster("f", "c");
    await round(h);
    await master.kill();
    await rounds(h, 3);
    const after = await h.cluster("f", "c");
    expect(after.version).toBe(before.version + 1);
    expect(masterOf(after.shards[0]!)!.addr).toBe(replica.addr);
    expect(await replica.call("SET", keyFor(after, 0), "v")).toBe("OK");
  }, 120_000);
});

/** Writers on their own connections, following MOVED; each keeps the keys acknowledged to it. */
function startWriters(first: string, count: number) {
  const clients: Redis[] = [];
  const connect = (addr: string) => {
    const at = addr.lastIndexOf(":");
    const c = new Redis({
      host: addr.slice(0, at),
      port: Number(addr.slice(at + 1)),
      protocol: 2,
      maxRetriesPerRequest: 0,
      enableReadyCheck: false,
      commandTimeout: 60_000,
    });
    c.on("error", () => {});
    clients.push(c);
    return c;
  };
  const acked: string[] = [];
  let stop = false;
  const loops = Array.from({ length: count }, async (_, w) => {
    const own = new Map<string, Redis>();
    const client = (addr: string) => {
      let c = own.get(addr);
      if (!c) {
        c = connect(addr);
        own.set(addr, c);
      }
      return c;
    };
    let target = first;
    for (let i = 0; !stop; ) {
      const key = `w${w}-${i}`;
      try {
        if ((await client(target).call("SET", key, String(i))) === "OK") {
          acked.push(key);
          i++;
        }
      } catch (err) {
        const moved = /MOVED \d+ (\S+)/.exec(String(err));
        if (moved) target = moved[1]!;
        else await new Promise((r) => setTimeout(r, 5));
      }
    }
  });
  return {
    acked,
    async stop() {
      stop = true;
      await Promise.all(loops);
      for (const c of clients) c.disconnect();
    },
  };
}

async function lostWrites(acked: readonly string[]): Promise<number> {
  const final = await h.cluster("f", "c");
  const at = nodes.find((n) => n.addr === masterOf(final.shards[0]!)!.addr)!;
  let lost = 0;
  for (const key of acked) if ((await at.call("GET", key)) === null) lost++;
  return lost;
}

describe("a manual failover of a live but slow master", () => {
  async function failOverWhilePaused(pauseMs: number) {
    await round(h);
    const writers = startWriters(master.addr, 8);
    await eventually(() => writers.acked.length > 200, 30_000);
    await master.pause();
    const resumed = new Promise<void>((resolve) =>
      setTimeout(() => master.resume().then(resolve), pauseMs),
    );
    const res = await h.request("POST", `${base}/shards/0/failover`, {});
    await resumed;
    // Writers go on; the probe then brings every node to what etcd says.
    const count = writers.acked.length;
    await eventually(() => writers.acked.length > count + 200, 30_000);
    await rounds(h, 3);
    await linkedUp();
    await new Promise((r) => setTimeout(r, 500));
    await writers.stop();
    const lost = await lostWrites(writers.acked);
    console.log(
      `slow master (${pauseMs} ms): ${res.status} ${res.body?.error?.message ?? ""}; ${writers.acked.length} acknowledged, ${lost} lost`,
    );
    return { res, lost };
  }

  it("paused past the node timeout but answering within the liveness check: planned, no acknowledged write lost", async () => {
    const { res, lost } = await failOverWhilePaused(1800);
    expect([200, 409]).toContain(res.status);
    if (res.status === 409) expect(res.body.error.message).toMatch(/switchover .* undone/);
    expect(lost).toBe(0);
  }, 120_000);

  it("paused past the liveness check: 409 (its state cannot be told), no acknowledged write lost", async () => {
    const before = await h.cluster("f", "c");
    const { res, lost } = await failOverWhilePaused(9000);
    expect(res.status, res.text).toBe(409);
    expect(res.body.error.message).toMatch(/cannot tell whether master .* is alive.*force/);
    expect((await h.cluster("f", "c")).version).toBe(before.version);
    expect(masterOf((await h.cluster("f", "c")).shards[0]!)!.addr).toBe(master.addr);
    expect(lost).toBe(0);
  }, 120_000);
});

describe("nodes holding a newer version than etcd", () => {
  it("are reported ahead, and the probe's failover still leaves a master that takes writes", async () => {
    await master.call("SET", "first", "1");
    await round(h);
    const stored = await h.cluster("f", "c");
    // As after an etcd restore: every node holds a version etcd never had.
    const pushed = await pushTopology(
      { ...stored, version: stored.version + 5 },
      { timeoutMs: 2000 },
    );
    expect(pushed.every((p) => p.ok)).toBe(true);
    await round(h);
    const health = await h.request("GET", `${base}/health`);
    expect(Object.keys(health.body.data.ahead)).toHaveLength(2);
    expect(health.body.data.nodes_ahead).toBe(2);
    expect(health.body.data.nodes.every((n: { ahead: boolean }) => n.ahead)).toBe(true);

    await master.kill();
    await rounds(h, 3);
    const after = await h.cluster("f", "c");
    expect(masterOf(after.shards[0]!)!.addr).toBe(replica.addr);
    expect(after.version).toBe(stored.version + 6);
    expect((await nodeView(replica)).version).toBe(after.version);
    expect((await nodeView(replica)).role).toBe("master");
    expect(await replica.call("SET", keyFor(after, 0), "v")).toBe("OK");

    await master.restart();
    await rounds(h, 2);
    expect(await converged(nodes, await h.cluster("f", "c"))).toEqual([]);
    const healed = await h.request("GET", `${base}/health`);
    expect(healed.body.data.ahead).toEqual({});
  }, 120_000);
});
