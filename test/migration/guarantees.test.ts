import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { masterOf, Task } from "../../lib/model/index.js";
import { probeCluster } from "../../lib/probe/index.js";
import { renderSetNodes } from "../../lib/topology/index.js";
import { masterSim, round } from "../probe/helpers.js";
import { type Harness, startHarness } from "../support/harness.js";
import { callAddress } from "../support/nodes.js";
import { tasksOf } from "./helpers.js";

let h: Harness;
const NS = "guar";
const api = (cl: string) => `/api/v1/namespaces/${NS}/clusters/${cl}`;

beforeAll(async () => {
  h = await startHarness({ label: "guar" });
});
afterAll(async () => h?.close());

describe("an unreadable task document", () => {
  it("is skipped and reported; the dead master is still failed over", async () => {
    const nodes = await h.startNodes(2);
    const before = await h.createCluster(NS, "bad", nodes, 2);
    const key = h.runtime.store.keys.task(NS, "bad", "bad");
    await h.etcd.put(key).value('{"id":5}');
    // The probe has seen the master (one it never saw is not failed over on a guess).
    await round(h);
    await masterSim(nodes, before, 0).stop();
    for (let i = 0; i < h.settings.failures + 1; i++) {
      const summary = await round(h);
      expect(summary.errors).toEqual([]);
    }
    const after = await h.cluster(NS, "bad");
    expect(masterOf(after.shards[0]!)!.id).not.toBe(masterOf(before.shards[0]!)!.id);
    const health = await h.request("GET", `${api("bad")}/health`);
    expect(health.status, health.text).toBe(200);
    expect(health.body.data.unreadable_documents).toEqual([
      expect.objectContaining({ key, error: expect.stringMatching(/invalid/) }),
    ]);
    // A request that must see every task (listing, a new migration) names the document.
    const tasks = await h.request("GET", `${api("bad")}/tasks`);
    expect(tasks.body.error.message).toMatch(/tasks\/bad in etcd is invalid/);
    const metrics = await (await h.app.request("/metrics")).text();
    expect(metrics).toMatch(/kvc_cluster_version\{namespace="guar",cluster="bad"\}/);
  });
});

describe("pushes never go backwards", () => {
  it("sync {force} raises the version above every node's and never lowers one", async () => {
    const nodes = await h.startNodes(2);
    const cluster = await h.createCluster(NS, "force", nodes, 1);
    // A node took a newer version than etcd holds (a change pushed by someone else).
    const ahead = cluster.version + 5;
    await callAddress(nodes[1]!.addr, "CLUSTERX", "SETNODES", renderSetNodes(cluster), ahead);
    const res = await h.request("POST", `${api("force")}/sync`, { force: true });
    expect(res.status, res.text).toBe(200);
    const after = await h.cluster(NS, "force");
    expect(after.version).toBe(ahead + 1);
    for (const n of nodes) expect(n.state.version).toBe(ahead + 1);
  });

  it("drift at the stored version is repaired with a new version, not a forced old one", async () => {
    const nodes = await h.startNodes(2);
    const cluster = await h.createCluster(NS, "drift", nodes, 1);
    // Same version, another view: the two shards' slots swapped on one node.
    const swapped = {
      ...cluster,
      shards: [
        { ...cluster.shards[0]!, slot_ranges: cluster.shards[1]!.slot_ranges },
        { ...cluster.shards[1]!, slot_ranges: cluster.shards[0]!.slot_ranges },
      ],
    };
    const text = renderSetNodes(swapped);
    await callAddress(nodes[0]!.addr, "CLUSTERX", "SETNODES", text, cluster.version, "force");
    const summary = await round(h);
    const report = summary.reports.find((r) => r.cluster === "drift")!;
    expect(report.repairs.map((r) => r.reason)).toContain("drift");
    const after = await h.cluster(NS, "drift");
    expect(after.version).toBe(cluster.version + 1);
    for (const n of nodes) expect(n.state.version).toBe(after.version);
    const again = await round(h);
    expect(again.reports.find((r) => r.cluster === "drift")!.repairs).toEqual([]);
  });
});

describe("a round that lost its lock", () => {
  it("touches no node: no failover, no push, when the lock is lost between its steps", async () => {
    const nodes = await h.startNodes(2);
    const before = await h.createCluster(NS, "lost", nodes, 2);
    // The probe has seen the master (one it never saw is not failed over on a guess).
    await round(h);
    await masterSim(nodes, before, 0).stop();
    for (let i = 0; i < h.settings.failures - 1; i++) await round(h);
    const views = () =>
      nodes.map((n) => ({ addr: n.addr, version: n.state.version, role: n.state.role }));
    const nodesBefore = views();
    // The round holds the cluster's ownership key under a lease, as a probe invocation does.
    const lease = h.etcd.lease(30, { autoKeepAlive: false });
    const fence = {
      key: h.runtime.store.keys.probeLock(NS, "lost"),
      lease: await lease.grant(),
    };
    await lease.put(fence.key).value("test-round");
    // The lock is lost once the round has read etcd and observed every node: before its next
    // call to a node (the step that would fail the master over), the lease ends and the
    // signal fires, as the lease keeper would.
    const lost = new AbortController();
    const nodeCount = before.shards.flatMap((s) => s.nodes).length;
    let calls = 0;
    const pool = new Proxy(h.nodePool, {
      get(target, prop, receiver) {
        if (prop !== "use") return Reflect.get(target, prop, receiver);
        return async (...args: Parameters<typeof target.use>) => {
          if (++calls > nodeCount && !lost.signal.aborted) {
            await lease.revoke();
            lost.abort();
          }
          return target.use(...args);
        };
      },
    });
    const report = await probeCluster(
      { ...h.runtime.ops, nodePool: pool },
      NS,
      "lost",
      h.settings,
      fence,
      lost.signal,
    );
    // It did get that far: the lock was lost mid-round, not before it began.
    expect(lost.signal.aborted, `${calls} node calls`).toBe(true);
    expect(report.failovers).toEqual([]);
    expect(report.lockLost).toBe(true);
    expect((await h.cluster(NS, "lost")).version).toBe(before.version);
    // The nodes, not only etcd: none took a new topology or changed its role.
    expect(views()).toEqual(nodesBefore);
    // A round holding its lock fails the master over as usual, and the nodes follow.
    await round(h);
    const after = await h.cluster(NS, "lost");
    expect(masterOf(after.shards[0]!)!.id).not.toBe(masterOf(before.shards[0]!)!.id);
    const promoted = nodes.find((n) => n.addr === masterOf(after.shards[0]!)!.addr)!;
    expect(promoted.state).toMatchObject({ version: after.version, role: "master" });
  });
});

describe("a task whose step keeps failing", () => {
  const removal = (id: string, state: "queued" | "running", removeIds: string[][]) =>
    Task.parse({
      id,
      kind: "remove_shards",
      state,
      source: -1,
      target: -1,
      ranges: [],
      slots_total: 0,
      created_at: 1,
      started_at: state === "running" ? 1 : null,
      remove_node_ids: removeIds,
    });

  it("fails with the reason instead of running for good", async () => {
    const nodes = await h.startNodes(2);
    const cluster = await h.createCluster(NS, "stuck", nodes, 1);
    // Removing a shard that still owns slots is refused on every attempt.
    const task = removal("000000000000001-000stuck0", "queued", [
      [masterOf(cluster.shards[0]!)!.id],
    ]);
    await h.runtime.store.putDoc(h.runtime.store.keys.task(NS, "stuck", task.id), task);
    for (let i = 0; i < 4; i++) await round(h);
    const [after] = await tasksOf(h, NS, "stuck");
    expect(after).toMatchObject({ state: "failed" });
    expect(after!.error).toMatch(/still owns slots/);
    expect((await h.cluster(NS, "stuck")).shards).toHaveLength(2);
  });

  it("a running removal can be cancelled", async () => {
    const nodes = await h.startNodes(2);
    const cluster = await h.createCluster(NS, "cancel", nodes, 1);
    const task = removal("000000000000001-000cancel", "running", [
      [masterOf(cluster.shards[1]!)!.id],
    ]);
    await h.runtime.store.putDoc(h.runtime.store.keys.task(NS, "cancel", task.id), task);
    const res = await h.request("DELETE", `${api("cancel")}/tasks/${task.id}`);
    expect(res.status, res.text).toBe(200);
    await round(h);
    const [after] = await tasksOf(h, NS, "cancel");
    expect(after).toMatchObject({ state: "cancelled" });
    expect((await h.cluster(NS, "cancel")).shards).toHaveLength(2);
  });
});
