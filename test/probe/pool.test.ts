import { afterEach, describe, expect, it } from "vitest";
import { NodePool } from "../../lib/kvrocks/index.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import { type SimNode, startSimNode } from "../support/kvrocks-sim/server.js";
import { round } from "./helpers.js";

let node: SimNode;
let pool: NodePool;

describe("connections kept between probe rounds", () => {
  afterEach(async () => {
    pool.close();
    await node.close();
  });

  it("reuse one connection, and a node restarted since is reached on a fresh one, not counted as down", async () => {
    node = await startSimNode();
    pool = new NodePool();
    const version = () => pool.use(node.addr, { timeoutMs: 500 }, (c) => c.version());
    expect(await version()).toBe(-1);
    expect(await version()).toBe(-1);
    await node.stop();
    await node.start();
    expect(await version()).toBe(-1);
  });

  it("never reuse a connection after an error, and report a node that is down", async () => {
    node = await startSimNode();
    pool = new NodePool();
    node.setFault({ hang: true });
    await expect(pool.use(node.addr, { timeoutMs: 200 }, (c) => c.version())).rejects.toThrow(
      /no answer within 200 ms/,
    );
    node.setFault({ hang: false });
    expect(await pool.use(node.addr, { timeoutMs: 500 }, (c) => c.version())).toBe(-1);
    await node.stop();
    await expect(pool.use(node.addr, { timeoutMs: 500 }, (c) => c.version())).rejects.toThrow();
  });

  it("report a kept connection the node dropped, once, not one the pool closed itself, and forget the drop once the node answers", async () => {
    node = await startSimNode();
    const lost: string[] = [];
    pool = new NodePool({ onLost: (addr) => lost.push(addr) });
    const version = () => pool.use(node.addr, { timeoutMs: 500 }, (c) => c.version());
    expect(await version()).toBe(-1);
    await node.stop();
    await eventually(() => lost.length === 1, 10_000, 20);
    expect(lost).toEqual([node.addr]);
    // A node that refuses every connect is no new news each time it is asked.
    await expect(version()).rejects.toThrow();
    await expect(version()).rejects.toThrow();
    await node.start();
    expect(pool.lostSince(node.addr)).toBeTypeOf("number");
    expect(await version()).toBe(-1);
    // It answered: the drop says nothing about it any more.
    expect(pool.lostSince(node.addr)).toBeUndefined();
    pool.closeIdle();
    pool.closeIdle();
    await new Promise((r) => setTimeout(r, 200));
    expect(lost).toEqual([node.addr]);
  });
});

describe("connections of the probe's pool", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  it("are closed for a node removed from its cluster", async () => {
    h = await startHarness({ label: "pool" });
    const nodes = await h.startNodes(4);
    await h.createCluster("pp", "c", nodes, 2);
    await round(h);
    for (const sim of nodes) expect(sim.kvrocks.connectedClients).toBe(1);
    const cluster = await h.cluster("pp", "c");
    const replica = cluster.shards[0]!.nodes[1]!;
    const removed = await h.request(
      "DELETE",
      `/api/v1/namespaces/pp/clusters/c/shards/0/nodes/${replica.id}`,
    );
    expect(removed.status, removed.text).toBe(204);
    await round(h);
    const gone = nodes.find((n) => n.addr === replica.addr)!;
    await eventually(() => gone.kvrocks.connectedClients === 0);
    for (const sim of nodes.filter((n) => n !== gone)) expect(sim.kvrocks.connectedClients).toBe(1);
  });

  it("are closed after the cluster's password changes", async () => {
    h = await startHarness({ label: "pool" });
    const nodes = await h.startNodes(2, { password: "old" });
    await h.createCluster("pp", "c", nodes, 2, "old");
    await round(h);
    for (const sim of nodes) expect(sim.kvrocks.connectedClients).toBe(1);
    for (const sim of nodes) sim.kvrocks.config.password = "new";
    await h.runtime.store.updateCluster("pp", "c", (c) => ({
      ...c,
      shards: c.shards.map((s) => ({
        ...s,
        nodes: s.nodes.map((n) => ({ ...n, password: "new" })),
      })),
    }));
    await round(h);
    for (const sim of nodes) await eventually(() => sim.kvrocks.connectedClients === 1);
    await round(h);
    for (const sim of nodes) expect(sim.kvrocks.connectedClients).toBe(1);
  });
});
