// The stats route reads every node's INFO when asked: keys, load and lag come from the nodes,
// a node that does not answer is shown down with its error, and nothing is stored.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import type { SimNode } from "../support/kvrocks-sim/server.js";

let h: Harness;
let nodes: SimNode[];
const base = "/api/v1/namespaces/st/clusters/c1";

// biome-ignore lint/suspicious/noExplicitAny: answers are read as JSON
type Node = any;
const byAddr = async (addr: string): Promise<Node> => {
  const res = await h.request("GET", `${base}/stats`);
  expect(res.status).toBe(200);
  return res.body.data.nodes.find((n: Node) => n.addr === addr);
};

beforeAll(async () => {
  h = await startHarness({ label: "stats" });
  // Two shards, each a master and a replica.
  nodes = await h.startNodes(4);
  await h.createCluster("st", "c1", nodes, 2);
});
afterAll(async () => h?.close());

describe("GET .../stats", () => {
  it("answers every node with its shard, role and figures", async () => {
    const res = await h.request("GET", `${base}/stats`);
    expect(res.status).toBe(200);
    const cluster = await h.cluster("st", "c1");
    expect(res.body.data.nodes.map((n: Node) => [n.id, n.shard, n.role])).toEqual(
      cluster.shards.flatMap((s, i) => s.nodes.map((n) => [n.id, i, n.role])),
    );
    for (const n of res.body.data.nodes) {
      expect(n).toMatchObject({ up: true, version: "2.10.1" });
      expect(n.used_memory_bytes).toBeGreaterThan(0);
      expect(n.used_disk_bytes).toBeGreaterThan(0);
      expect(n.uptime_seconds).toBeGreaterThanOrEqual(0);
      expect(n.connected_clients).toBeGreaterThanOrEqual(1);
      expect(n.error).toBeUndefined();
    }
  });

  it("shows about 500 keys on a master after 500 writes, and its replica catching up", async () => {
    const cluster = await h.cluster("st", "c1");
    const shard = cluster.shards[0]!;
    const master = nodes.find(
      (n) => n.addr === shard.nodes.find((x) => x.role === "master")!.addr,
    )!;
    const replicaAddr = shard.nodes.find((x) => x.role === "slave")!.addr;
    // Keys of the master's own slots only: the others would be MOVED.
    let written = 0;
    for (let i = 0; written < 500; i++) {
      try {
        master.write(`key:${i}`, "v");
        written++;
      } catch {}
    }
    const stats = await byAddr(master.addr);
    expect(stats.keys).toBeGreaterThanOrEqual(450);
    expect(stats.keys).toBeLessThanOrEqual(550);
    expect(stats.ops_per_sec).toBeGreaterThan(0);
    // The replica catches up: no lag left, the master's keys, and the master says the same.
    let replica: Node;
    await eventually(async () => {
      replica = await byAddr(replicaAddr);
      return replica.replication_lag === 0;
    }, 10_000);
    expect(replica.keys).toBe(stats.keys);
    expect((await byAddr(master.addr)).replication_lag).toBe(0);
  });

  it("counts a replica's lag in writes while its link is down, and the master takes the largest", async () => {
    const cluster = await h.cluster("st", "c1");
    const shard = cluster.shards[1]!;
    const master = nodes.find(
      (n) => n.addr === shard.nodes.find((x) => x.role === "master")!.addr,
    )!;
    const replica = nodes.find(
      (n) => n.addr === shard.nodes.find((x) => x.role === "slave")!.addr,
    )!;
    replica.setFault({ fullSync: true }); // link down: the replica takes no new writes
    try {
      let written = 0;
      for (let i = 0; written < 40; i++) {
        try {
          master.write(`lag:${i}`, "v");
          written++;
        } catch {}
      }
      expect((await byAddr(replica.addr)).replication_lag).toBe(40);
      expect((await byAddr(master.addr)).replication_lag).toBe(40);
    } finally {
      replica.setFault({ fullSync: false });
    }
  });

  it("shows a node that does not answer as down with its error, within the node timeout", async () => {
    const hung = nodes[3]!;
    hung.setFault({ hang: true });
    try {
      const stats = await byAddr(hung.addr);
      expect(stats).toMatchObject({ up: false, keys: null, replication_lag: null });
      expect(stats.error).toContain("no answer within 1000 ms");
      // The other nodes are still read.
      const all = (await h.request("GET", `${base}/stats`)).body.data.nodes;
      expect(all.filter((n: Node) => n.up)).toHaveLength(3);
    } finally {
      hung.setFault({ hang: false });
    }
  });

  it("shows a stopped master down and its replica's lag as unknown", async () => {
    const cluster = await h.cluster("st", "c1");
    const shard = cluster.shards[0]!;
    const master = nodes.find(
      (n) => n.addr === shard.nodes.find((x) => x.role === "master")!.addr,
    )!;
    const replicaAddr = shard.nodes.find((x) => x.role === "slave")!.addr;
    await master.stop();
    try {
      const down = await byAddr(master.addr);
      expect(down.up).toBe(false);
      expect(down.error).toMatch(/ECONNREFUSED|closed|unreachable/i);
      const replica = await byAddr(replicaAddr);
      expect(replica).toMatchObject({ up: true, replication_lag: null });
    } finally {
      await master.start();
    }
  });

  it("answers 404 for a cluster that does not exist, and 400 for a bad name", async () => {
    expect((await h.request("GET", "/api/v1/namespaces/st/clusters/nope/stats")).status).toBe(404);
    const bad = await h.request("GET", "/api/v1/namespaces/st/clusters/bad%01name/stats");
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBeDefined();
  });
});

describe("GET .../stats with tokens", () => {
  it("asks for a token as other GETs do, and a read-only one is enough", async () => {
    const guarded = await startHarness({
      label: "stats-auth",
      env: { KVC_API_TOKENS: "full", KVC_READONLY_TOKENS: "ro" },
    });
    try {
      const path = "/api/v1/namespaces/st/clusters/none/stats";
      expect((await guarded.request("GET", path)).status).toBe(401);
      const ro = await guarded.request("GET", path, undefined, { authorization: "Bearer ro" });
      expect(ro.status).toBe(404);
    } finally {
      await guarded.close();
    }
  });
});
