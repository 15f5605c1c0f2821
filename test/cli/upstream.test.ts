// The upstream kvctl dialect, run as a real process against a real controller.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tagsForSlots } from "../migration/helpers.js";
import type { SimNode } from "../support/kvrocks-sim/server.js";
import { addrs, type Controller, Kvctl, simNodes, startController } from "./harness.js";

let controller: Controller;
let kvctl: Kvctl;
let nodes: SimNode[];
const scope = ["-n", "ns1", "-c", "c1"];

beforeAll(async () => {
  controller = await startController({ label: "cli-up" });
  kvctl = new Kvctl({ KVCTL_HOST: controller.url });
  nodes = await simNodes(8);
});
afterAll(async () => {
  await controller?.close();
  await Promise.all(nodes?.map((n) => n.close()) ?? []);
  kvctl?.cleanup();
});

describe("namespaces", () => {
  it("lists none, creates one, refuses a duplicate with the server's message and exit 1", async () => {
    expect(await kvctl.ok(["list", "namespaces"])).toBe("No namespaces found.\n");
    expect(await kvctl.ok(["create", "namespace", "ns1"])).toBe("namespace ns1 created\n");
    expect(await kvctl.json(["list", "namespaces"])).toEqual({ namespaces: ["ns1"] });
    const again = await kvctl.run(["create", "namespace", "ns1"]);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe("");
    expect(again.stderr).toMatch(/^error: .*ns1.*/);
  });
});

describe("a cluster's life", () => {
  it("creates a cluster of 2 shards x 2 nodes", async () => {
    const out = await kvctl.ok([
      "create",
      "cluster",
      "c1",
      "-n",
      "ns1",
      "--nodes",
      addrs(nodes.slice(0, 4)),
      "-r",
      "2",
    ]);
    expect(out).toMatch(/cluster ns1\/c1 created/);
    expect(await kvctl.json(["list", "clusters", "-n", "ns1"])).toEqual({ clusters: ["c1"] });
    const { cluster } = await kvctl.json(["get", "cluster", "c1", "-n", "ns1"]);
    expect(cluster.version).toBe(1);
    expect(cluster.shards.map((s: { slot_ranges: string[] }) => s.slot_ranges)).toEqual([
      ["0-8191"],
      ["8192-16383"],
    ]);
    expect(
      cluster.shards[1].nodes.map((n: { addr: string; role: string }) => [n.addr, n.role]),
    ).toEqual([
      [nodes[2]!.addr, "master"],
      [nodes[3]!.addr, "slave"],
    ]);
  });

  it("shows the cluster as a table", async () => {
    const out = await kvctl.ok(["get", "cluster", ...scope]);
    expect(out).toMatch(/^cluster: c1 {3}version: 1/);
    expect(out).toMatch(/SHARD\s+NODE ID\s+ADDRESS\s+ROLE\s+SLOTS\s+VERSION\s+HEALTH\s+MIGRATING/);
    expect(out).toContain(nodes[0]!.addr);
    expect(out).toMatch(new RegExp(`${nodes[2]!.addr}\\s+master\\s+8192-16383`));
  });

  it("lists shards and nodes", async () => {
    const shards = await kvctl.ok(["list", "shards", ...scope]);
    expect(shards).toMatch(
      new RegExp(`^1\\s+${nodes[2]!.addr}\\s+\\w{8}\\s+2\\s+8192-16383\\s+-$`, "m"),
    );
    const all = await kvctl.json(["list", "nodes", ...scope]);
    expect(all.nodes.map((n: { addr: string }) => n.addr)).toEqual(
      nodes.slice(0, 4).map((n) => n.addr),
    );
    const one = await kvctl.json(["list", "nodes", ...scope, "-s", "1"]);
    expect(one.nodes.map((n: { role: string }) => n.role)).toEqual(["master", "slave"]);
    expect(await kvctl.ok(["list", "nodes", ...scope, "--shard", "1"])).toMatch(
      /ID\s+ADDRESS\s+ROLE\s+CREATED/,
    );
  });

  it("adds a shard, adds a node to it and deletes that node by id prefix", async () => {
    expect(await kvctl.ok(["create", "shard", ...scope, "--nodes", addrs(nodes.slice(4, 6))])).toBe(
      "shard 2 added to ns1/c1\n",
    );
    const added = await kvctl.ok(["create", "node", nodes[6]!.addr, ...scope, "-s", "2"]);
    const id = /with id ([0-9a-f]{40})/.exec(added)?.[1];
    expect(id).toBeDefined();
    expect((await kvctl.json(["list", "nodes", ...scope, "-s", "2"])).nodes).toHaveLength(3);
    expect(await kvctl.ok(["delete", "node", id!.slice(0, 8), ...scope])).toMatch(
      `removed from shard 2`,
    );
    expect((await kvctl.json(["list", "nodes", ...scope, "-s", "2"])).nodes).toHaveLength(2);
  });

  it("migrate --slot-only moves only the slots: no data migration is started", async () => {
    const before = (await kvctl.json(["get", "cluster", ...scope])).cluster.version;
    const out = await kvctl.ok([
      "migrate",
      "slot",
      "0-99",
      "--target",
      "2",
      "--slot-only",
      ...scope,
    ]);
    expect(out).toMatch(/slots 0-99 -> shard 2: moved \(slot only/);
    const { cluster } = await kvctl.json(["get", "cluster", ...scope]);
    expect(cluster.version).toBe(before + 1);
    expect(cluster.shards[0].slot_ranges).toEqual(["100-8191"]);
    expect(cluster.shards[2].slot_ranges).toEqual(["0-99"]);
    expect(cluster.shards[0].migrating_slot).toBeNull();
    // The source master was never asked to migrate (upstream kvctl's --slot-only moved data).
    expect(nodes[0]!.state.migration.state).not.toMatch(/start|success/);
    expect(nodes[4]!.state.version).toBe(before + 1);
  });

  it("migrate --slot-only refuses slots holding keys, saying so; --force moves them", async () => {
    const key = `{${tagsForSlots([150]).get(150)}}:k`;
    nodes[0]!.write(key, "v");
    const args = ["migrate", "slot", "100-199", "--target", "2", "--slot-only", ...scope];
    const refused = await kvctl.run(args);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`holds keys in slots 100-199 (${key} among them)`);
    expect(await kvctl.ok([...args, "--force"])).toMatch(/slots 100-199 -> shard 2: moved/);
    // Back the same way: shard 2 holds no keys there.
    await kvctl.ok(["migrate", "slot", "100-199", "--target", "0", "--slot-only", ...scope]);
  });

  it("fails over a shard, to the preferred node when asked", async () => {
    const before = (await kvctl.json(["get", "cluster", ...scope])).cluster;
    const replica = before.shards[0].nodes.find((n: { role: string }) => n.role === "slave");
    const out = await kvctl.json(["failover", "shard", "0", ...scope]);
    expect(out.new_master_id).toBe(replica.id);
    const back = before.shards[0].nodes.find((n: { role: string }) => n.role === "master");
    const text = await kvctl.ok([
      "failover",
      "shard",
      "0",
      "--preferred",
      back.id.slice(0, 10),
      ...scope,
    ]);
    expect(text).toContain(back.id);
  });

  it("deletes a shard once its slots are moved back", async () => {
    const refused = await kvctl.run(["delete", "shard", "2", ...scope]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: /);
    await kvctl.ok(["migrate", "slot", "0-99", "--target", "0", "--slot-only", ...scope]);
    expect(await kvctl.ok(["delete", "shard", "2", ...scope])).toBe(
      "shard 2 deleted from ns1/c1\n",
    );
    expect((await kvctl.json(["list", "shards", ...scope])).shards).toHaveLength(2);
  });
});

describe("import and delete", () => {
  it("deletes a cluster, then imports it back from its nodes", async () => {
    expect(await kvctl.ok(["delete", "cluster", "c1", "-n", "ns1"])).toBe(
      "cluster ns1/c1 deleted\n",
    );
    expect(await kvctl.ok(["list", "clusters", "-n", "ns1"])).toBe("No clusters found.\n");
    const imported = await kvctl.json([
      "import",
      "cluster",
      "c9",
      "-n",
      "ns1",
      "--nodes",
      addrs(nodes.slice(0, 4)),
    ]);
    expect(imported.cluster.name).toBe("c9");
    expect(imported.cluster.shards.map((s: { slot_ranges: string[] }) => s.slot_ranges)).toEqual([
      ["0-8191"],
      ["8192-16383"],
    ]);
    await kvctl.ok(["delete", "cluster", "c9", "-n", "ns1"]);
    expect(await kvctl.ok(["delete", "namespace", "ns1"])).toBe("namespace ns1 deleted\n");
    expect(await kvctl.json(["delete", "namespace", "ns1"]).catch((e) => String(e))).toMatch(
      /exit 1/,
    );
  });
});
