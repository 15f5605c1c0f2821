// `replace node OLD --with NEW` through the HTTP API and the probe rounds that advance its
// task: NEW joins OLD's shard, catches up, takes over by planned switchover when OLD is
// master, then OLD is removed; after a crash at any step the next round finishes it; bad
// requests are clear 4xx. Real Kvrocks when KVROCKS_BIN is set, the simulator otherwise.
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { allNodes, masterOf, type Task } from "../../lib/model/index.js";
import { failoverShard, replaceNode } from "../../lib/ops/index.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import { nodeView, type TestNode } from "../support/nodes.js";
import { round, simFor } from "./helpers.js";

let h: Harness;
let nodes: TestNode[];
const base = "/api/v1/namespaces/r/clusters/c";

beforeEach(async () => {
  h = await startHarness({ label: "replace", env: { KVC_SWITCHOVER_CATCHUP_MS: "3000" } });
  nodes = await h.startTestNodes(2);
  await h.createCluster("r", "c", nodes, 2);
  await eventually(async () => (await nodeView(nodes[1]!)).linkUp, 30_000, 50);
  await round(h);
}, 60_000);
afterEach(async () => h.close());

/** Writes unique keys to whoever answers for them, following MOVED; keeps the acknowledged ones. */
function startWriter(first: string) {
  const clients = new Map<string, Redis>();
  const client = (addr: string) => {
    let c = clients.get(addr);
    if (!c) {
      const at = addr.lastIndexOf(":");
      c = new Redis({
        host: addr.slice(0, at),
        port: Number(addr.slice(at + 1)),
        protocol: 2,
        maxRetriesPerRequest: 0,
        enableReadyCheck: false,
      });
      c.on("error", () => {});
      clients.set(addr, c);
    }
    return c;
  };
  const acked: string[] = [];
  let target = first;
  let stop = false;
  let errors = 0;
  const done = (async () => {
    for (let i = 0; !stop; ) {
      const key = `w${i}`;
      try {
        if ((await client(target).call("SET", key, String(i))) === "OK") {
          acked.push(key);
          i++;
        }
      } catch (err) {
        const moved = /MOVED \d+ (\S+)/.exec(String(err));
        if (moved) target = moved[1]!;
        else {
          errors++;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    }
  })();
  return {
    acked,
    errors: () => errors,
    async stop() {
      stop = true;
      await done;
      for (const c of clients.values()) c.disconnect();
    },
  };
}

async function task(id: string): Promise<Task> {
  const res = await h.request("GET", `${base}/tasks/${id}`);
  expect(res.status, res.text).toBe(200);
  return res.body.data.task;
}

/** Probe rounds until the task ends; the rounds it took. */
async function roundsUntilFinished(id: string, max = 60): Promise<Task> {
  for (let i = 0; i < max; i++) {
    const t = await task(id);
    if (t.state !== "running" && t.state !== "queued") return t;
    await round(h);
    await new Promise((r) => setTimeout(r, 100));
  }
  return task(id);
}

describe("replace node", () => {
  it("replaces a master under writes: NEW takes over by switchover, OLD is removed, no acknowledged write lost", async () => {
    const [fresh] = await h.startTestNodes(1);
    const before = await h.cluster("r", "c");
    const old = masterOf(before.shards[0]!)!;
    const writer = startWriter(old.addr);
    await eventually(() => writer.acked.length > 100, 30_000);

    const res = await h.request("POST", `${base}/nodes/${old.id}/replace`, {
      with: fresh!.addr,
      zone: "b",
    });
    expect(res.status, res.text).toBe(202);
    expect(res.body.data.task).toMatchObject({
      kind: "replace_node",
      replace: { old_addr: old.addr, new_addr: fresh!.addr },
    });
    // Shown with the cluster's tasks.
    const listed = await h.request("GET", `${base}/tasks`);
    expect(listed.body.data.tasks.map((t: Task) => t.id)).toContain(res.body.data.task.id);

    const done = await roundsUntilFinished(res.body.data.task.id);
    const before2 = writer.acked.length;
    await eventually(() => writer.acked.length > before2 + 50, 30_000);
    await writer.stop();
    expect(done.state, JSON.stringify(done)).toBe("succeeded");

    const after = await h.cluster("r", "c");
    expect(allNodes(after).map((n) => n.addr)).not.toContain(old.addr);
    const master = masterOf(after.shards[0]!)!;
    expect(master.addr).toBe(fresh!.addr);
    expect(master.zone).toBe("b");
    const newMaster = simFor([...nodes, fresh!], master.addr);
    let lost = 0;
    for (const key of writer.acked) if ((await newMaster.call("GET", key)) === null) lost++;
    console.log(
      `replace master: ${writer.acked.length} acknowledged writes, ${lost} lost, ${writer.errors()} client errors, switch attempts ${done.replace?.switch_attempts}`,
    );
    expect(lost).toBe(0);
  }, 180_000);

  it("replaces a replica without a switchover", async () => {
    const [fresh] = await h.startTestNodes(1);
    const before = await h.cluster("r", "c");
    const master = masterOf(before.shards[0]!)!;
    const old = before.shards[0]!.nodes.find((n) => n.role === "slave")!;
    const res = await h.request("POST", `${base}/nodes/${old.addr}/replace`, { with: fresh!.addr });
    expect(res.status, res.text).toBe(202);
    const done = await roundsUntilFinished(res.body.data.task.id);
    expect(done.state, JSON.stringify(done)).toBe("succeeded");
    const after = await h.cluster("r", "c");
    expect(masterOf(after.shards[0]!)!.id).toBe(master.id);
    expect(after.shards[0]!.nodes.map((n) => n.addr).sort()).toEqual(
      [master.addr, fresh!.addr].sort(),
    );
    await eventually(async () => (await nodeView(fresh!)).linkUp, 30_000, 50);
  }, 120_000);

  it("resumes after a crash between the join and the task, and after the switchover committed", async () => {
    const [fresh] = await h.startTestNodes(1);
    const before = await h.cluster("r", "c");
    const old = masterOf(before.shards[0]!)!;
    // A crash after the join, before the task was written: NEW is a plain replica of the shard.
    const joined = await h.request("POST", `${base}/shards/0/nodes`, { addr: fresh!.addr });
    expect(joined.status, joined.text).toBe(201);
    await eventually(async () => (await nodeView(fresh!)).linkUp, 30_000, 50);
    // The same request again adopts it (called below the route: no step is taken at once).
    const started = await replaceNode(h.runtime.ops, "r", "c", {
      node: old.id,
      addr: fresh!.addr,
    });
    expect(started.replace).toMatchObject({ new_id: joined.body.data, step: "catch_up" });
    // A crash after the switchover committed, before the task moved on.
    await failoverShard(h.runtime.ops, {
      ns: "r",
      cluster: "c",
      shard: 0,
      preferredNodeId: joined.body.data,
      reason: "test: the switchover of a crashed replace",
    });
    const done = await roundsUntilFinished(started.id);
    expect(done.state, JSON.stringify(done)).toBe("succeeded");
    const after = await h.cluster("r", "c");
    expect(allNodes(after).map((n) => n.addr)).not.toContain(old.addr);
    expect(masterOf(after.shards[0]!)!.addr).toBe(fresh!.addr);
  }, 120_000);

  it("resumes after a crash between the removal and the task's last write", async () => {
    const [fresh] = await h.startTestNodes(1);
    const before = await h.cluster("r", "c");
    const old = before.shards[0]!.nodes.find((n) => n.role === "slave")!;
    const started = await replaceNode(h.runtime.ops, "r", "c", { node: old.id, addr: fresh!.addr });
    const removed = await h.request("DELETE", `${base}/shards/0/nodes/${old.id}`);
    expect(removed.status, removed.text).toBe(204);
    const done = await roundsUntilFinished(started.id);
    expect(done.state, JSON.stringify(done)).toBe("succeeded");
    expect(allNodes(await h.cluster("r", "c")).map((n) => n.addr)).toContain(fresh!.addr);
  }, 120_000);

  it("a cancelled replacement stops before its next step and leaves NEW a replica", async () => {
    const [fresh] = await h.startTestNodes(1);
    const before = await h.cluster("r", "c");
    const old = masterOf(before.shards[0]!)!;
    const started = await replaceNode(h.runtime.ops, "r", "c", { node: old.id, addr: fresh!.addr });
    const cancelled = await h.request("DELETE", `${base}/tasks/${started.id}`);
    expect(cancelled.status, cancelled.text).toBe(200);
    const done = await roundsUntilFinished(started.id);
    expect(done.state).toBe("cancelled");
    expect(done.error).toMatch(/stays a replica/);
    const after = await h.cluster("r", "c");
    expect(masterOf(after.shards[0]!)!.id).toBe(old.id);
    expect(after.shards[0]!.nodes.map((n) => n.addr)).toContain(fresh!.addr);
  }, 120_000);

  it("answers clear 4xx: unknown node, NEW already in a cluster, NEW unusable, OLD the last node and down", async () => {
    const [fresh, other] = await h.startTestNodes(2);
    const cluster = await h.cluster("r", "c");
    const master = masterOf(cluster.shards[0]!)!;
    const replica = cluster.shards[0]!.nodes.find((n) => n.role === "slave")!;

    const unknown = await h.request("POST", `${base}/nodes/${"f".repeat(40)}/replace`, {
      with: fresh!.addr,
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toMatch(/is not in cluster r\/c/);

    const member = await h.request("POST", `${base}/nodes/${replica.id}/replace`, {
      with: master.addr,
    });
    expect(member.status).toBe(409);
    expect(member.body.error.message).toMatch(/already a master of cluster r\/c/);

    const self = await h.request("POST", `${base}/nodes/${replica.id}/replace`, {
      with: replica.addr,
    });
    expect(self.status).toBe(400);
    expect(self.body.error.field).toBe("with");

    const badAddr = await h.request("POST", `${base}/nodes/${replica.id}/replace`, {
      with: "nohost",
    });
    expect(badAddr.status).toBe(400);
    expect(badAddr.body.error.field).toBe("with");

    // A node of another stored cluster.
    await h.request("POST", "/api/v1/namespaces/r/clusters", {
      name: "other",
      nodes: [other!.addr],
    });
    const taken = await h.request("POST", `${base}/nodes/${replica.id}/replace`, {
      with: other!.addr,
    });
    expect(taken.status).toBe(409);
    expect(taken.body.error.message).toMatch(/is a node of cluster r\/other/);

    // Nothing listens there.
    const dead = await h.request("POST", `${base}/nodes/${replica.id}/replace`, {
      with: "127.0.0.1:1",
    });
    expect(dead.status).toBe(400);
    expect(dead.body.error.field).toBe("with");
    expect(dead.body.error.message).toMatch(/127\.0\.0\.1:1 is not usable/);

    // A shard of one node that is down: NEW would have nothing to copy.
    const [single] = await h.startTestNodes(1);
    const one = await h.request("POST", "/api/v1/namespaces/r/clusters", {
      name: "one",
      nodes: [single!.addr],
    });
    expect(one.status, one.text).toBe(201);
    await single!.kill();
    const last = await h.request(
      "POST",
      `/api/v1/namespaces/r/clusters/one/nodes/${single!.addr}/replace`,
      { with: fresh!.addr },
    );
    expect(last.status).toBe(409);
    expect(last.body.error.message).toMatch(/only node of shard 0 and does not answer/);
    // Nothing was changed by the refusals.
    expect((await h.cluster("r", "c")).version).toBe(cluster.version);
  }, 120_000);
});
