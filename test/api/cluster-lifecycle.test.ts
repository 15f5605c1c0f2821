import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatSlotRanges } from "../../lib/slots/index.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import { nodeView, type TestNode } from "../support/nodes.js";

const V1 = "/api/v1/namespaces";
let h: Harness;
let nodes: TestNode[];

beforeAll(async () => {
  h = await startHarness({ label: "api" });
  nodes = await h.startTestNodes(4, { password: "s3cret" });
});

const versions = () => Promise.all(nodes.map(async (n) => (await nodeView(n)).version));
afterAll(async () => h.close());

describe("namespaces", () => {
  it("creates a namespace with 201 and refuses it again with 409", async () => {
    expect((await h.request("POST", V1, { namespace: "ns1" })).status).toBe(201);
    const again = await h.request("POST", V1, { namespace: "ns1" });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/ns1/);
    const list = await h.request("GET", V1);
    expect(list.body.data.namespaces).toContain("ns1");
  });

  it("answers 404 for a missing namespace", async () => {
    expect((await h.request("GET", `${V1}/nope`)).status).toBe(404);
    expect((await h.request("GET", `${V1}/nope/clusters`)).status).toBe(404);
  });
});

describe("a cluster's life", () => {
  const base = `${V1}/ns1/clusters/c1`;

  it("creates a cluster of 2 shards over 4 nodes with replicas 2 and pushes version 1", async () => {
    const res = await h.request("POST", `${V1}/ns1/clusters`, {
      name: "c1",
      nodes: nodes.map((n) => n.addr),
      replicas: 2,
      password: "s3cret",
    });
    expect(res.status).toBe(201);
    const cluster = res.body.data.cluster;
    expect(cluster.version).toBe(1);
    expect(cluster.shards.map((s: { slot_ranges: string[] }) => s.slot_ranges)).toEqual([
      ["0-8191"],
      ["8192-16383"],
    ]);
    expect(
      cluster.shards[0].nodes.map((n: { addr: string; role: string }) => [n.addr, n.role]),
    ).toEqual([
      [nodes[0]!.addr, "master"],
      [nodes[1]!.addr, "slave"],
    ]);
    expect(await versions()).toEqual([1, 1, 1, 1]);
    expect((await nodeView(nodes[1]!)).masterAddr).toBe(nodes[0]!.addr);
  });

  it("refuses a second cluster that reuses an address", async () => {
    const res = await h.request("POST", `${V1}/ns1/clusters`, {
      name: "c2",
      nodes: [nodes[0]!.addr],
      replicas: 1,
      check_nodes: false,
    });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain(nodes[0]!.addr);
  });

  it("answers 404 for a missing cluster", async () => {
    const res = await h.request("GET", `${V1}/ns1/clusters/missing`);
    expect(res.status).toBe(404);
    expect(res.body.error.message).toMatch(/missing/);
  });

  it("moves slot 3 slot-only, bumping the version in etcd and on every node", async () => {
    const res = await h.request("POST", `${base}/migrate`, { target: 1, slot: 3, slot_only: true });
    expect(res.status).toBe(200);
    const cluster = await h.cluster("ns1", "c1");
    expect(cluster.version).toBe(2);
    expect(formatSlotRanges(cluster.shards[0]!.slot_ranges)).toEqual(["0-2", "4-8191"]);
    expect(formatSlotRanges(cluster.shards[1]!.slot_ranges)).toEqual(["3", "8192-16383"]);
    expect(await versions()).toEqual([2, 2, 2, 2]);
  });

  it("refuses to remove a shard that owns slots and removes an empty one", async () => {
    const owning = await h.request("DELETE", `${base}/shards/0`);
    expect(owning.status).toBe(400);
    expect(owning.body.error.message).toMatch(/owns slots/);
    const added = await h.request("POST", `${base}/shards`, {
      nodes: ["127.0.0.1:1"],
      password: "",
    });
    expect(added.status).toBe(201);
    expect((await h.cluster("ns1", "c1")).shards).toHaveLength(3);
    expect((await h.request("DELETE", `${base}/shards/2`)).status).toBe(204);
    expect((await h.cluster("ns1", "c1")).shards).toHaveLength(2);
  });

  it("adds a node with a 40-character id and refuses duplicates, second masters and removing a master", async () => {
    const added = await h.request("POST", `${base}/shards/1/nodes`, {
      addr: "127.0.0.1:2",
      role: "slave",
    });
    expect(added.status).toBe(201);
    expect(added.body.data).toMatch(/^[0-9a-f]{40}$/);
    const duplicate = await h.request("POST", `${base}/shards/0/nodes`, { addr: "127.0.0.1:2" });
    expect(duplicate.status).toBe(409);
    const secondMaster = await h.request("POST", `${base}/shards/0/nodes`, {
      addr: "127.0.0.1:3",
      role: "master",
    });
    expect(secondMaster.status).toBe(409);
    const cluster = await h.cluster("ns1", "c1");
    const master = cluster.shards[0]!.nodes.find((n) => n.role === "master")!;
    const removeMaster = await h.request("DELETE", `${base}/shards/0/nodes/${master.id}`);
    expect(removeMaster.status).toBe(400);
    expect((await h.request("DELETE", `${base}/shards/1/nodes/${"f".repeat(40)}`)).status).toBe(
      404,
    );
    expect((await h.request("DELETE", `${base}/shards/1/nodes/${added.body.data}`)).status).toBe(
      204,
    );
  });

  it("fails a shard over by hand to its replica, and every node follows", async () => {
    const before = await h.cluster("ns1", "c1");
    const replica = before.shards[0]!.nodes.find((n) => n.role === "slave")!;
    const res = await h.request("POST", `${base}/shards/0/failover`, {});
    expect(res.status, res.text).toBe(200);
    expect(res.body.data.new_master_id).toBe(replica.id);
    const after = await h.cluster("ns1", "c1");
    expect(after.version).toBe(before.version + 1);
    expect(after.shards[0]!.nodes.find((n) => n.role === "master")!.id).toBe(replica.id);
    await eventually(async () => (await versions()).every((v) => v === after.version));
    expect((await nodeView(nodes[1]!)).role).toBe("master");
    const oldMaster = await nodeView(nodes[0]!);
    expect(oldMaster.role).toBe("slave");
    expect(oldMaster.masterAddr).toBe(nodes[1]!.addr);
    const history = await h.request("GET", `${base}/failovers`);
    expect(history.body.data.failovers).toHaveLength(1);
    expect(history.body.data.failovers[0]).toMatchObject({
      reason: "manual",
      new_master_id: replica.id,
    });
  });

  it("pushes the stored topology again on sync", async () => {
    const res = await h.request("POST", `${base}/sync`, { force: true });
    expect(res.status).toBe(200);
    expect(res.body.data.results.filter((r: { ok: boolean }) => r.ok)).toHaveLength(4);
  });

  it("never returns a node password", async () => {
    const answers = await Promise.all([
      h.request("GET", base),
      h.request("GET", `${base}/shards`),
      h.request("GET", `${base}/shards/0`),
      h.request("GET", `${base}/shards/0/nodes`),
      h.request("GET", `${base}/health`),
    ]);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.text).not.toContain("s3cret");
    }
    expect(answers[0]!.body.data.cluster.shards[0].nodes[0].password).toBe("******");
  });

  it("deletes the cluster without touching the nodes, then the namespace", async () => {
    expect((await h.request("DELETE", `${V1}/ns1`)).status).toBe(403);
    expect((await h.request("DELETE", base)).status).toBe(204);
    expect((await h.request("GET", base)).status).toBe(404);
    expect((await nodeView(nodes[0]!)).version).toBeGreaterThan(0);
    expect((await h.request("DELETE", `${V1}/ns1`)).status).toBe(204);
  });
});

describe("import", () => {
  it("builds a cluster from the nodes' own view", async () => {
    const fresh = await h.startTestNodes(2, { password: "s3cret" });
    await h.createCluster("ns2", "orig", fresh, 1, "s3cret");
    const original = await h.cluster("ns2", "orig");
    await h.request("DELETE", `${V1}/ns2/clusters/orig`);
    const res = await h.request("POST", `${V1}/ns2/clusters/copy/import`, {
      nodes: fresh.map((n) => n.addr),
      password: "s3cret",
    });
    expect(res.status).toBe(201);
    const imported = await h.cluster("ns2", "copy");
    expect(imported.version).toBe(original.version);
    expect(imported.shards.map((s) => s.nodes.map((n) => n.id))).toEqual(
      original.shards.map((s) => s.nodes.map((n) => n.id)),
    );
  });

  it("refuses nodes that disagree, naming them", async () => {
    const a = await h.startTestNodes(1);
    const b = await h.startTestNodes(1);
    await h.createCluster("ns3", "a", a, 1);
    await h.createCluster("ns3", "b", b, 1);
    await h.request("DELETE", `${V1}/ns3/clusters/a`);
    await h.request("DELETE", `${V1}/ns3/clusters/b`);
    const res = await h.request("POST", `${V1}/ns3/clusters/mixed/import`, {
      nodes: [a[0]!.addr, b[0]!.addr],
    });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain(b[0]!.addr);
  });
});
