// Replicas follow their master as SETNODES says: full sync on attach, every write after,
// link down (data kept) while the master is away, and promotion keeps the sequence.

import type { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { type SimNode, startSimNodes, stopAll } from "../support/kvrocks-sim/server.js";
import {
  A,
  B,
  call,
  client,
  errorOf,
  nodesText,
  parseInfo,
  pushTopology,
  waitFor,
} from "./helpers.js";

const opened: Redis[] = [];
async function shard(): Promise<{ m: SimNode; r: SimNode; cm: Redis; cr: Redis }> {
  const [m, r] = (await startSimNodes(2)) as [SimNode, SimNode];
  const cm = await client(m);
  const cr = await client(r);
  opened.push(cm, cr);
  return { m, r, cm, cr };
}
const topo = (m: SimNode, r: SimNode) =>
  nodesText([
    { id: A, node: m, slots: "0-16383" },
    { id: B, node: r, masterOf: A },
  ]);
const replInfo = async (c: Redis) => parseInfo((await call(c, "INFO", "replication")) as string);

afterEach(async () => {
  for (const c of opened.splice(0)) c.disconnect();
  await stopAll();
});

describe("replication", () => {
  it("a replica gets every write of its master and reaches the same sequence", async () => {
    const { m, r, cm, cr } = await shard();
    await pushTopology([cm, cr], topo(m, r), 1);
    for (let i = 0; i < 20; i++) await call(cm, "SET", `k${i}`, `v${i}`);
    await call(cm, "DEL", "k0", "k0");
    expect(r.state.sequence).toBe(21);
    expect(m.state.sequence).toBe(21);
    expect(r.state.data).toEqual(m.state.data);
    expect(r.read("k5")).toBe("v5");
    const info = await replInfo(cr);
    expect(info.get("role")).toBe("slave");
    expect(info.get("master_link_status")).toBe("up");
    expect(info.get("slave_repl_offset")).toBe("21");
    const master = await replInfo(cm);
    expect(master.get("connected_slaves")).toBe("1");
    expect(master.get("slave0")).toBe(`ip=127.0.0.1,port=${r.port},offset=21,lag=0`);
    expect(await call(cm, "ROLE")).toEqual(["master", "21", [["127.0.0.1", String(r.port), "21"]]]);
    expect(await call(cr, "ROLE")).toEqual([
      "slave",
      "127.0.0.1",
      String(m.port),
      "connected",
      "21",
    ]);
  });

  it("a replica that attaches late copies the master's data and sequence (full sync)", async () => {
    const { m, r, cm, cr } = await shard();
    await call(cm, "CLUSTERX", "SETNODES", topo(m, r), 1);
    for (let i = 0; i < 5; i++) await call(cm, "SET", `k${i}`, "x");
    expect(r.state.sequence).toBe(0);
    await call(cr, "CLUSTERX", "SETNODES", topo(m, r), 1);
    expect(r.state.sequence).toBe(5);
    expect([...r.state.data.keys()].sort()).toEqual(["k0", "k1", "k2", "k3", "k4"]);
  });

  it("the link goes down when the master stops; the replica keeps data and sequence", async () => {
    const { m, r, cm, cr } = await shard();
    await pushTopology([cm, cr], topo(m, r), 1);
    await call(cm, "SET", "a", "1");
    await m.stop();
    const down = await replInfo(cr);
    expect(down.get("master_link_status")).toBe("down");
    expect(down.get("master_sync_in_progress")).toBe("0");
    expect(down.get("slave_repl_offset")).toBe("1");
    expect(r.state.data.get("a")).toBe("1");
    await m.start();
    expect((await replInfo(cr)).get("master_link_status")).toBe("up");
    const cm2 = await client(m);
    opened.push(cm2);
    await call(cm2, "SET", "b", "2");
    expect(r.read("b")).toBe("2");
    expect(r.state.sequence).toBe(2);
  });

  it("a promoted replica keeps its sequence and the old master follows it", async () => {
    const { m, r, cm, cr } = await shard();
    await pushTopology([cm, cr], topo(m, r), 1);
    for (let i = 0; i < 3; i++) await call(cm, "SET", `k${i}`, "x");
    await m.stop();
    const promoted = nodesText([
      { id: B, node: r, slots: "0-16383" },
      { id: A, node: m, masterOf: B },
    ]);
    expect(await call(cr, "CLUSTERX", "SETNODES", promoted, 2)).toBe("OK");
    expect((await replInfo(cr)).get("role")).toBe("master");
    expect(r.state.sequence).toBe(3);
    await call(cr, "SET", "k9", "new");
    expect(r.state.sequence).toBe(4);

    await m.start();
    // Restarted with its old nodes.conf, the old master is a master at version 1 ...
    const cm2 = await client(m);
    opened.push(cm2);
    expect(await call(cm2, "CLUSTERX", "VERSION")).toBe("1");
    expect((await replInfo(cm2)).get("role")).toBe("master");
    // ... until the controller pushes the new topology.
    expect(await call(cm2, "CLUSTERX", "SETNODES", promoted, 2)).toBe("OK");
    expect((await replInfo(cm2)).get("master_link_status")).toBe("up");
    expect(m.read("k9")).toBe("new");
    expect(m.state.sequence).toBe(4);
  });

  it("a replica stuck in full sync reports it and misses writes until it finishes", async () => {
    const { m, r, cm, cr } = await shard();
    await pushTopology([cm, cr], topo(m, r), 1);
    r.setFault({ fullSync: true });
    await call(cm, "SET", "a", "1");
    const info = await replInfo(cr);
    expect(info.get("master_sync_in_progress")).toBe("1");
    expect(info.get("master_link_status")).toBe("down");
    expect(r.read("a")).toBeUndefined();
    expect(await call(cr, "ROLE")).toEqual(["slave", "127.0.0.1", String(m.port), "sync", "0"]);
    r.setFault({ fullSync: false });
    expect(r.read("a")).toBe("1");
    expect((await replInfo(cr)).get("master_sync_in_progress")).toBe("0");
  });

  it("a replica of a stopped master stays down, then syncs when that master starts", async () => {
    const { m, r, cm, cr } = await shard();
    await call(cm, "CLUSTERX", "SETNODES", topo(m, r), 1);
    await call(cm, "SET", "a", "1");
    await m.stop();
    await call(cr, "CLUSTERX", "SETNODES", topo(m, r), 1);
    expect((await replInfo(cr)).get("master_link_status")).toBe("down");
    expect(r.read("a")).toBeUndefined();
    await m.start();
    await waitFor(
      () => replInfo(cr),
      (i) => i.get("master_link_status") === "up",
    );
    expect(r.read("a")).toBe("1");
  });

  it("writes on a replica are refused even by the test helper", async () => {
    const { m, r, cm, cr } = await shard();
    await pushTopology([cm, cr], topo(m, r), 1);
    expect(() => r.write("bar", "x")).toThrow(`MOVED 5061 127.0.0.1:${m.port}`);
    m.write("bar", "x");
    expect(r.read("bar")).toBe("x");
    expect(await errorOf(call(cr, "SET", "bar", "y"))).toBe(`MOVED 5061 127.0.0.1:${m.port}`);
  });
});
