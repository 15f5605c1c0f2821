// A node belongs to one cluster: no spelling of its address (127.1, localhost, a zero-padded
// port, 0.0.0.0) lets another namespace's token add it elsewhere, and no push takes it over.
// Runs on the simulator (`npm test`) and on real Kvrocks (`npm run test:kvrocks`).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, clusterToJson } from "../../lib/model/index.js";
import { round } from "../probe/helpers.js";
import { type Harness, startHarness } from "../support/harness.js";
import { nodeView, type TestNode } from "../support/nodes.js";

const V1 = "/api/v1/namespaces";
const ADMIN = { authorization: "Bearer tok-admin" };
const VICTIM = { authorization: "Bearer tok-victim" };
const ATTACKER = { authorization: "Bearer tok-attacker" };
const KEYS = 100;

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    label: "owner",
    env: {
      KVC_API_TOKENS: "admin:tok-admin",
      KVC_NAMESPACE_TOKENS: "victim=tok-victim,attacker=tok-attacker",
    },
  });
  for (const ns of ["victim", "attacker"]) {
    const res = await h.request("POST", V1, { namespace: ns }, ADMIN);
    expect(res.status, res.text).toBe(201);
  }
});
afterAll(async () => h.close());

const port = (node: TestNode) => node.port;

async function createOne(ns: string, name: string, node: TestNode, auth: Record<string, string>) {
  const res = await h.request("POST", `${V1}/${ns}/clusters`, { name, nodes: [node.addr] }, auth);
  expect(res.status, res.text).toBe(201);
}

async function writeKeys(node: TestNode): Promise<void> {
  for (let i = 0; i < KEYS; i++) await node.call("SET", `key:${i}`, `value:${i}`);
}

async function countKeys(node: TestNode): Promise<number> {
  let found = 0;
  for (let i = 0; i < KEYS; i++) if ((await node.call("GET", `key:${i}`)) === `value:${i}`) found++;
  return found;
}

describe("another namespace's node, under another spelling of its address", () => {
  let victim: TestNode;
  let attacker: TestNode;

  beforeAll(async () => {
    [victim, attacker] = (await h.startTestNodes(2)) as [TestNode, TestNode];
    await createOne("victim", "v", victim!, VICTIM);
    await createOne("attacker", "a", attacker!, ATTACKER);
    await writeKeys(victim!);
  });

  it("refuses 127.1, localhost and a zero-padded port with 409 naming the cluster that has it", async () => {
    const aliases = [
      `127.1:${port(victim)}`,
      `localhost:${port(victim)}`,
      `127.0.0.1:0${port(victim)}`,
      `LOCALHOST:00${port(victim)}`,
    ];
    for (const addr of aliases) {
      const node = await h.request(
        "POST",
        `${V1}/attacker/clusters/a/shards/0/nodes`,
        { addr, role: "slave" },
        ATTACKER,
      );
      expect(node.status, `${addr}: ${node.text}`).toBe(409);
      expect(node.body.error.message).toContain("victim/v");
      const shard = await h.request(
        "POST",
        `${V1}/attacker/clusters/a/shards`,
        { nodes: [addr] },
        ATTACKER,
      );
      expect(shard.status, `${addr}: ${shard.text}`).toBe(409);
      expect(shard.body.error.message).toContain("victim/v");
      const created = await h.request(
        "POST",
        `${V1}/attacker/clusters`,
        { name: "grab", nodes: [addr], check_nodes: false },
        ATTACKER,
      );
      expect(created.status, `${addr}: ${created.text}`).toBe(409);
      expect(created.body.error.message).toContain("victim/v");
    }
    expect((await h.cluster("attacker", "a")).shards).toHaveLength(1);
  });

  it("refuses an alias no spelling rule catches (0.0.0.0) by asking the node who it is", async () => {
    const addr = `0.0.0.0:${port(victim)}`;
    const res = await h.request(
      "POST",
      `${V1}/attacker/clusters/a/shards/0/nodes`,
      { addr, role: "slave" },
      ATTACKER,
    );
    expect(res.status, res.text).toBe(409);
    expect(res.body.error.message).toContain("victim/v");
    const shard = await h.request(
      "POST",
      `${V1}/attacker/clusters/a/scale`,
      { add_shards: [{ nodes: [addr] }], check_nodes: false, slot_only: true },
      ATTACKER,
    );
    expect(shard.status, shard.text).toBe(409);
    expect(shard.body.error.message).toContain("victim/v");
  });

  it("leaves the victim's master with its keys and role after the attacker's sync force", async () => {
    const res = await h.request(
      "POST",
      `${V1}/attacker/clusters/a/sync`,
      { force: true },
      ATTACKER,
    );
    expect(res.status, res.text).toBe(200);
    const view = await nodeView(victim);
    expect(view.role).toBe("master");
    expect(view.version).toBe((await h.cluster("victim", "v")).version);
    expect(await countKeys(victim)).toBe(KEYS);
  });

  it("never pushes to a node that answers as another cluster's node, even when etcd lists it", async () => {
    // Written as upstream's controller (or a hand edit) could: no claims, the victim's master
    // under an alias as a replica of the attacker's master.
    const stored = await h.cluster("attacker", "a");
    const forged: Cluster = structuredClone(stored);
    forged.shards[0]!.nodes.push({
      id: "f".repeat(40),
      addr: `0.0.0.0:${port(victim)}`,
      role: "slave",
      password: "",
      created_at: 0,
    });
    await h.etcd
      .put(h.runtime.store.keys.cluster("attacker", "a"))
      .value(JSON.stringify(clusterToJson(forged)));
    const res = await h.request(
      "POST",
      `${V1}/attacker/clusters/a/sync`,
      { force: true },
      ATTACKER,
    );
    expect(res.status, res.text).toBe(200);
    const missed = res.body.data.results.find((r: { id: string }) => r.id === "f".repeat(40));
    expect(missed.ok).toBe(false);
    expect(missed.error).toMatch(/another cluster/);
    const view = await nodeView(victim);
    expect(view.role).toBe("master");
    expect(view.id).toBe((await h.cluster("victim", "v")).shards[0]!.nodes[0]!.id);
    expect(await countKeys(victim)).toBe(KEYS);
    // The probe's repair goes through the same push.
    await round(h);
    expect((await nodeView(victim)).role).toBe("master");
    expect(await countKeys(victim)).toBe(KEYS);
    await h.etcd
      .put(h.runtime.store.keys.cluster("attacker", "a"))
      .value(JSON.stringify(clusterToJson(stored)));
  });

  it("relays no command to a node that answers as another cluster's node, even when etcd lists it", async () => {
    const stored = await h.cluster("attacker", "a");
    const forged: Cluster = structuredClone(stored);
    const alias = `0.0.0.0:${port(victim)}`;
    forged.shards[0]!.nodes.push({
      id: "f".repeat(40),
      addr: alias,
      role: "slave",
      password: "",
      created_at: 0,
    });
    await h.etcd
      .put(h.runtime.store.keys.cluster("attacker", "a"))
      .value(JSON.stringify(clusterToJson(forged)));
    try {
      for (const command of [
        ["GET", "key:1"],
        ["DEL", "key:2"],
      ]) {
        const res = await h.request(
          "POST",
          `${V1}/attacker/clusters/a/commands`,
          { command, node: alias },
          ATTACKER,
        );
        expect(res.status, res.text).toBe(200);
        const [result] = res.body.data.results;
        expect(result, JSON.stringify(result)).toMatchObject({ ok: false });
        expect(result.error).toMatch(/answers as/);
      }
      expect(await countKeys(victim)).toBe(KEYS);
    } finally {
      await h.etcd
        .put(h.runtime.store.keys.cluster("attacker", "a"))
        .value(JSON.stringify(clusterToJson(stored)));
    }
  });
});

describe("a node left initialised by a cluster no longer stored", () => {
  let left: TestNode;
  let owner: TestNode;

  beforeAll(async () => {
    [left, owner] = (await h.startTestNodes(2)) as [TestNode, TestNode];
    await createOne("victim", "gone", left!, VICTIM);
    await createOne("attacker", "b", owner!, ATTACKER);
    await writeKeys(left!);
    expect((await h.request("DELETE", `${V1}/victim/clusters/gone`, undefined, ADMIN)).status).toBe(
      204,
    );
  });

  it("is refused with 409 saying to import it or force it, and force needs an admin", async () => {
    const res = await h.request(
      "POST",
      `${V1}/attacker/clusters/b/shards/0/nodes`,
      { addr: left.addr },
      ATTACKER,
    );
    expect(res.status, res.text).toBe(409);
    expect(res.body.error.message).toMatch(/no longer stored/);
    expect(res.body.error.message).toMatch(/import/);
    expect(res.body.error.message).toMatch(/force/);
    const forcedByNamespace = await h.request(
      "POST",
      `${V1}/attacker/clusters/b/shards/0/nodes`,
      { addr: left.addr, force: true },
      ATTACKER,
    );
    expect(forcedByNamespace.status, forcedByNamespace.text).toBe(403);
    expect(await countKeys(left)).toBe(KEYS);
    expect((await nodeView(left)).role).toBe("master");
  });

  it("is taken over with an admin's force", async () => {
    const res = await h.request(
      "POST",
      `${V1}/attacker/clusters/b/shards/0/nodes`,
      { addr: left.addr, force: true },
      ADMIN,
    );
    expect(res.status, res.text).toBe(201);
    const view = await nodeView(left);
    expect(view.id).toBe(res.body.data);
    expect(view.role).toBe("slave");
    expect(view.masterAddr).toBe(owner.addr);
  });
});

describe("addresses stored in another spelling", () => {
  it("does not judge a zero-padded port drifted, round after round", async () => {
    const [node] = await h.startTestNodes(1);
    await createOne("victim", "padded", node!, VICTIM);
    const stored = await h.cluster("victim", "padded");
    const padded: Cluster = structuredClone(stored);
    padded.version++;
    padded.shards[0]!.nodes[0]!.addr = `${node!.host}:0${node!.port}`;
    await h.etcd
      .put(h.runtime.store.keys.cluster("victim", "padded"))
      .value(JSON.stringify(clusterToJson(padded)));
    const sync = await h.request("POST", `${V1}/victim/clusters/padded/sync`, {}, VICTIM);
    expect(sync.status, sync.text).toBe(200);
    for (let i = 0; i < 3; i++) {
      const summary = await round(h);
      const report = summary.reports.find((r) => r.cluster === "padded")!;
      expect(report.repairs).toEqual([]);
    }
    expect((await h.cluster("victim", "padded")).version).toBe(padded.version);
  });
});
