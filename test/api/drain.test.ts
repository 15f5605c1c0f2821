// Drain and undrain through the HTTP app, with the real probe: a drained node is marked in the
// cluster document (version unchanged, upstream's fields kept), a drained master is switched
// over first, the probe neither fails a drained node over nor counts it for safe mode, and
// undrain waits for the node to catch up. Runs on real Kvrocks when KVROCKS_BIN is set, on
// the simulator otherwise.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Cluster, masterOf, ProbeState } from "../../lib/model/index.js";
import { listHistory } from "../../lib/ops/index.js";
import { round, rounds } from "../probe/helpers.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import type { TestNode } from "../support/nodes.js";

let h: Harness;
let nodes: TestNode[];
const base = "/api/v1/namespaces/d/clusters/c";

const linked = (n: TestNode) =>
  eventually(
    async () => /master_link_status:up/.test(String(await n.call("INFO", "replication"))),
    30_000,
    100,
  );

async function start(count: number, replicas: number) {
  nodes = await h.startTestNodes(count);
  const cluster = await h.createCluster("d", "c", nodes, replicas);
  for (const shard of cluster.shards)
    for (const n of shard.nodes) if (n.role === "slave") await linked(at(n.addr));
  await round(h);
  return cluster;
}

const at = (addr: string) => nodes.find((n) => n.addr === addr)!;
const replicaOf = (c: Cluster, shard = 0) =>
  c.shards[shard]!.nodes.find((n) => n.role === "slave")!;
const drain = (id: string, body?: unknown) => h.request("POST", `${base}/nodes/${id}/drain`, body);
const undrain = (id: string, body?: unknown) =>
  h.request("POST", `${base}/nodes/${id}/undrain`, body);
const probeState = async () =>
  (await h.runtime.store.getDoc(h.runtime.store.keys.probeState("d", "c"), ProbeState))?.value;

beforeEach(async () => {
  h = await startHarness({
    label: "drain",
    env: { KVC_PROBE_FAILURES: "2", KVC_SWITCHOVER_CATCHUP_MS: "3000" },
  });
});
afterEach(async () => h.close());

describe("drain", () => {
  it("marks a drained replica in the cluster document, keeps the version and upstream's fields", async () => {
    const before = await start(2, 2);
    const replica = replicaOf(before);
    const res = await drain(replica.id);
    expect(res.status, res.text).toBe(200);
    expect(res.body.data).toMatchObject({
      node_id: replica.id,
      drained: true,
      new_master_id: null,
    });
    const after = await h.cluster("d", "c");
    expect(after.version).toBe(before.version);
    const raw = JSON.parse(
      String((await h.etcd.get(h.runtime.store.keys.cluster("d", "c")).string()) ?? "{}"),
    );
    const stored = raw.shards[0].nodes.find((n: { id: string }) => n.id === replica.id);
    expect(Object.keys(stored).sort()).toEqual(
      ["id", "addr", "role", "password", "created_at", "drained_at"].sort(),
    );
    const other = raw.shards[0].nodes.find((n: { id: string }) => n.id !== replica.id);
    expect(Object.keys(other)).not.toContain("drained_at");
    const health = await h.request("GET", `${base}/health`);
    expect(health.body.data.nodes.find((n: { id: string }) => n.id === replica.id).drained).toBe(
      true,
    );
    // Drained twice: the same answer, one mark.
    expect((await drain(replica.id)).status).toBe(200);
  });

  it("switches a drained master over to its replica first (planned, no write lost), then marks it", async () => {
    const before = await start(2, 2);
    const master = masterOf(before.shards[0]!)!;
    const replica = replicaOf(before);
    for (let i = 0; i < 200; i++) await at(master.addr).call("SET", `k${i}`, String(i));
    const res = await drain(master.id);
    expect(res.status, res.text).toBe(200);
    expect(res.body.data.new_master_id).toBe(replica.id);
    const after = await h.cluster("d", "c");
    expect(masterOf(after.shards[0]!)!.id).toBe(replica.id);
    const old = after.shards[0]!.nodes.find((n) => n.id === master.id)!;
    expect(old.role).toBe("slave");
    expect(old.drained_at).toBeGreaterThan(0);
    for (let i = 0; i < 200; i++)
      expect(await at(replica.addr).call("GET", `k${i}`)).toBe(String(i));
    const history = await listHistory(h.runtime.store, "d", "c");
    expect(history.map((r) => r.reason)).toEqual(["drain"]);
  });

  it("answers 404 for an unknown node, 409 for the only node of a shard and for the last undrained one", async () => {
    await start(2, 2);
    const [extra] = await h.startTestNodes(1);
    nodes.push(extra!);
    const added = await h.request("POST", `${base}/shards`, { nodes: [extra!.addr] });
    expect(added.status, added.text).toBe(201);
    const cluster = await h.cluster("d", "c");
    const unknown = await drain("f".repeat(40));
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toMatch(/node f+ not found/);
    const bad = await drain("nope");
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("id");

    // The added shard has one node.
    const lonely = cluster.shards.find((s) => s.nodes.length === 1)!.nodes[0]!;
    const only = await drain(lonely.id);
    expect(only.status).toBe(409);
    expect(only.body.error.message).toMatch(/only node of shard/);

    const pair = cluster.shards.find((s) => s.nodes.length === 2)!;
    expect((await drain(replicaOf({ ...cluster, shards: [pair] }).id)).status).toBe(200);
    const last = await drain(masterOf(pair)!.id);
    expect(last.status).toBe(409);
    expect(last.body.error.message).toMatch(/every other node of shard \d+ is drained/);
  });

  it("refuses a master whose replica cannot take over with 409 and why, even with force when none answers", async () => {
    const cluster = await start(2, 2);
    const master = masterOf(cluster.shards[0]!)!;
    await at(replicaOf(cluster).addr).kill();
    const res = await drain(master.id);
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/cannot drain master of shard 0: .*does not answer/);
    expect(res.body.error.message).toMatch(/force/);
    const forced = await drain(master.id, { force: true });
    expect(forced.status).toBe(409);
    expect(forced.body.error.message).toMatch(/no undrained replica answers, even with force/);
    const after = await h.cluster("d", "c");
    expect(masterOf(after.shards[0]!)!.id).toBe(master.id);
    expect(after.shards[0]!.nodes.some((n) => n.drained_at !== undefined)).toBe(false);
  });
});

describe("the probe and a drained node", () => {
  it("does not fail over a master marked drained, nor count it down in health", async () => {
    const cluster = await start(2, 2);
    const master = masterOf(cluster.shards[0]!)!;
    // Only a forced drain of a shard whose replica died could leave one; written as such.
    await h.runtime.store.updateCluster("d", "c", (c) => ({
      ...c,
      shards: c.shards.map((s) => ({
        ...s,
        nodes: s.nodes.map((n) => (n.id === master.id ? { ...n, drained_at: 1 } : n)),
      })),
    }));
    await at(master.addr).kill();
    await rounds(h, 4);
    const after = await h.cluster("d", "c");
    expect(masterOf(after.shards[0]!)!.id).toBe(master.id);
    expect(await listHistory(h.runtime.store, "d", "c")).toEqual([]);
    const health = (await h.request("GET", `${base}/health`)).body.data;
    expect(health.nodes.find((n: { id: string }) => n.id === master.id).up).toBe(false);
    expect(health.nodes_down).toBe(0);
    const metrics = await (await h.app.request("/metrics")).text();
    expect(metrics).toMatch(new RegExp(`kvc_node_drained\\{[^}]*node="${master.id}"[^}]*\\} 1`));
  });

  it("leaves a drained node out of safe mode: stopped with the master, the failover still happens", async () => {
    // One shard, a master and two replicas: the drained one and the master stop in one round.
    const cluster = await start(3, 3);
    const master = masterOf(cluster.shards[0]!)!;
    const [drained, spare] = cluster.shards[0]!.nodes.filter((n) => n.role === "slave");
    expect((await drain(drained!.id)).status).toBe(200);
    await Promise.all([at(drained!.addr).kill(), at(master.addr).kill()]);
    const summaries = await rounds(h, 4);
    expect(summaries.flatMap((s) => s.reports.map((r) => r.safeMode))).not.toContain(true);
    expect((await probeState())?.safe_mode).toBe(false);
    const after = await h.cluster("d", "c");
    expect(masterOf(after.shards[0]!)!.id).toBe(spare!.id);
  });
});

describe("undrain", () => {
  it("answers 409 while the node is down, then clears the mark once it has caught up", async () => {
    const cluster = await start(2, 2);
    const replica = replicaOf(cluster);
    const master = masterOf(cluster.shards[0]!)!;
    expect((await drain(replica.id)).status).toBe(200);
    await at(replica.addr).kill();
    for (let i = 0; i < 100; i++) await at(master.addr).call("SET", `k${i}`, String(i));
    const early = await undrain(replica.id, { wait_ms: 300 });
    expect(early.status).toBe(409);
    expect(early.body.error.message).toMatch(/has not caught up .*does not answer.*stays drained/);
    expect(
      (await h.cluster("d", "c")).shards[0]!.nodes.find((n) => n.id === replica.id)!.drained_at,
    ).toBeGreaterThan(0);

    await at(replica.addr).restart();
    const res = await undrain(replica.id, { wait_ms: 20_000, max_lag: 0 });
    expect(res.status, res.text).toBe(200);
    expect(res.body.data).toMatchObject({ drained: false, lag: 0, restored_master: false });
    const after = await h.cluster("d", "c");
    expect(after.shards[0]!.nodes.find((n) => n.id === replica.id)!.drained_at).toBeUndefined();
    const sequence = async (n: TestNode) =>
      /sequence:(\d+)/.exec(String(await n.call("INFO", "keyspace")))?.[1];
    expect(await sequence(at(replica.addr))).toBe(await sequence(at(master.addr)));
  });

  it("lets the master be drained right after its replica came back: the probe's record of the replica's outage does not block the planned switchover", async () => {
    const cluster = await start(2, 2);
    const replica = replicaOf(cluster);
    const master = masterOf(cluster.shards[0]!)!;
    expect((await drain(replica.id)).status).toBe(200);
    await at(replica.addr).kill();
    await round(h);
    for (let i = 0; i < 100; i++) await at(master.addr).call("SET", `k${i}`, String(i));
    await round(h);
    expect((await probeState())?.replica_lag[replica.id]?.stale).toBe(true);
    await at(replica.addr).restart();
    expect((await undrain(replica.id, { wait_ms: 20_000 })).status).toBe(200);
    // No probe round in between: the stored state still says the replica missed writes.
    const res = await drain(master.id);
    expect(res.status, res.text).toBe(200);
    expect(res.body.data.new_master_id).toBe(replica.id);
  });

  it("with restore_master switches the node back to master", async () => {
    const cluster = await start(2, 2);
    const master = masterOf(cluster.shards[0]!)!;
    expect((await drain(master.id)).status).toBe(200);
    const res = await undrain(master.id, { restore_master: true, wait_ms: 20_000 });
    expect(res.status, res.text).toBe(200);
    expect(res.body.data.restored_master).toBe(true);
    const after = await h.cluster("d", "c");
    expect(masterOf(after.shards[0]!)!.id).toBe(master.id);
    expect(after.shards[0]!.nodes.every((n) => n.drained_at === undefined)).toBe(true);
  });

  it("answers 400 naming the field for a bad body and 404 for an unknown node", async () => {
    await start(2, 2);
    const bad = await undrain("f".repeat(40), { wait_ms: -1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("wait_ms");
    expect((await undrain("f".repeat(40))).status).toBe(404);
  });
});
