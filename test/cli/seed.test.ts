// The seed's dialect (mkns, mkcl, showcluster, migslot, migdata, failover -si, addshard),
// run as a real process against a real controller, and the same cluster as upstream's.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keySlot } from "../support/kvrocks-sim/keyslot.js";
import type { SimNode } from "../support/kvrocks-sim/server.js";
import { callAddress } from "../support/nodes.js";
import {
  addrs,
  type Controller,
  Kvctl,
  probe,
  probeLoop,
  simNodes,
  startController,
} from "./harness.js";

let controller: Controller;
let kvctl: Kvctl;
let nodes: SimNode[];

beforeAll(async () => {
  controller = await startController({ label: "cli-seed" });
  kvctl = new Kvctl({ KVCTL_HOST: controller.url });
  nodes = await simNodes(12);
});
afterAll(async () => {
  await controller?.close();
  await Promise.all(nodes?.map((n) => n.close()) ?? []);
  kvctl?.cleanup();
});

interface ShardJson {
  nodes: { id: string; addr: string; role: string }[];
  slot_ranges: string[];
  migrating_slot: string | null;
  target_shard_index: number;
}

/** A cluster's shape without its names and ids: what two dialects must agree on. */
const shape = (cluster: { version: number; shards: ShardJson[] }, base: readonly SimNode[]) => ({
  version: cluster.version,
  shards: cluster.shards.map((s) => ({
    nodes: s.nodes.map((n) => [base.findIndex((b) => b.addr === n.addr), n.role]),
    slot_ranges: s.slot_ranges,
    migrating_slot: s.migrating_slot,
    target_shard_index: s.target_shard_index,
  })),
});

describe("making a cluster", () => {
  it("mkns makes a namespace and `use` makes it current", async () => {
    expect(await kvctl.ok(["mkns", "ns2"])).toBe("namespace ns2 created\n");
    expect(await kvctl.ok(["use", "-n", "ns2"])).toMatch(/^namespace: +ns2$/m);
    expect(readFileSync(join(kvctl.home, ".kvctl.yaml"), "utf8")).toMatch(/namespace: ns2/);
  });

  it("mkcl without -d prints the plan and changes nothing", async () => {
    const out = await kvctl.ok(["mkcl", "-cn", "seedc", "-s", "2", "-n", addrs(nodes.slice(0, 4))]);
    expect(out).toMatch(/cluster ns2\/seedc: 2 shard\(s\) of 2 node\(s\)/);
    expect(out).toMatch(new RegExp(`^0\\s+master\\s+${nodes[0]!.addr}\\s+0-8191$`, "m"));
    expect(out).toMatch(new RegExp(`^1\\s+slave\\s+${nodes[3]!.addr}$`, "m"));
    expect(out).toMatch(/nothing was changed: add -d to do it/);
    const plan = await kvctl.json([
      "mkcl",
      "-cn",
      "seedc",
      "-s",
      "2",
      "-n",
      addrs(nodes.slice(0, 4)),
    ]);
    expect(plan.applied).toBe(false);
    expect(plan.plan.replicas).toBe(2);
    expect(await kvctl.ok(["list", "clusters"])).toBe("No clusters found.\n");
  });

  it("mkcl -d and `create cluster` make the same cluster", async () => {
    const seed = nodes.slice(0, 4);
    const up = nodes.slice(4, 8);
    await kvctl.ok(["mkcl", "-cn", "seedc", "-s", "2", "-n", addrs(seed), "-d"]);
    await kvctl.ok(["create", "cluster", "upc", "--nodes", addrs(up), "-r", "2"]);
    const a = (await kvctl.json(["get", "cluster", "seedc"])).cluster;
    const b = (await kvctl.json(["get", "cluster", "upc"])).cluster;
    expect(shape(a, seed)).toEqual(shape(b, up));
    expect(shape(a, seed).shards.map((s) => s.nodes)).toEqual([
      [
        [0, "master"],
        [1, "slave"],
      ],
      [
        [2, "master"],
        [3, "slave"],
      ],
    ]);
    // Both were pushed: every node has version 1 and each replica follows its master.
    for (const n of [...seed, ...up]) expect(n.state.version).toBe(1);
    expect(seed[1]!.state.masterAddr).toBe(seed[0]!.addr);
    expect(up[3]!.state.masterAddr).toBe(up[2]!.addr);
  });

  it("mkcl -c reads the nodes from a file (-c is the nodes file for mkcl)", async () => {
    const file = join(kvctl.home, "nodes.txt");
    writeFileSync(file, `# shard 0\n${nodes[8]!.addr}\n${nodes[9]!.addr}\n`);
    const out = await kvctl.ok(["mkcl", "-cn", "filec", "-c", file, "--do"]);
    expect(out).toMatch(/cluster ns2\/filec created/);
    const { cluster } = await kvctl.json(["get", "cluster", "filec"]);
    expect(shape(cluster, nodes.slice(8, 10)).shards).toEqual([
      {
        nodes: [
          [0, "master"],
          [1, "slave"],
        ],
        slot_ranges: ["0-16383"],
        migrating_slot: null,
        target_shard_index: -1,
      },
    ]);
    await kvctl.ok(["delete", "cluster", "filec", "-n", "ns2"]);
    // The nodes keep filec's topology: an operator frees them (addshard below reuses them)
    // with CLUSTER RESET, or an admin adds them with force.
    for (const node of nodes.slice(8, 10)) await callAddress(node.addr, "CLUSTER", "RESET");
  });

  it("refuses an uneven split as a usage error", async () => {
    const r = await kvctl.run(["mkcl", "-cn", "bad", "-s", "3", "-n", addrs(nodes.slice(8, 12))]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/4 nodes cannot be split evenly into 3 shards/);
  });
});

describe("operating it", () => {
  it("showcluster shows shards, short ids, roles, slots, versions and health", async () => {
    await kvctl.ok(["use", "-c", "seedc"]);
    await probe(controller);
    const out = await kvctl.ok(["showcluster"]);
    expect(out).toMatch(/^cluster: seedc {3}version: 1 {3}nodes down: 0/);
    expect(out).toMatch(/SHARD\s+NODE ID\s+ADDRESS\s+ROLE\s+SLOTS\s+VERSION\s+HEALTH\s+MIGRATING/);
    expect(out).toMatch(
      new RegExp(
        `^0\\s+[0-9a-f]{8}\\s+${nodes[0]!.addr}\\s+master\\s+0-8191\\s+1\\s+up\\s+-$`,
        "m",
      ),
    );
    expect(out).toMatch(
      new RegExp(`^1\\s+[0-9a-f]{8}\\s+${nodes[3]!.addr}\\s+slave\\s+1\\s+up$`, "m"),
    );
  });

  it("migslot moves slots only, several ranges at once", async () => {
    const out = await kvctl.ok(["migslot", "-s", "0", "-t", "1", "-l", "0-99,200"]);
    expect(out).toMatch(/slots 0-99,200 -> shard 1: moved \(slot only/);
    const { cluster } = await kvctl.json(["showcluster"]);
    expect(cluster.version).toBe(2);
    expect(cluster.shards[0].slot_ranges).toEqual(["100-199", "201-8191"]);
    expect(cluster.shards[1].slot_ranges).toEqual(["0-99", "200", "8192-16383"]);
    expect(nodes[0]!.state.migration.state).not.toMatch(/start|success/);
  });

  it("migdata moves slots with their data; --wait follows it to the end", async () => {
    const keys = Array.from({ length: 3000 }, (_, i) => `key:${i}`)
      .filter((k) => keySlot(k) >= 300 && keySlot(k) <= 399)
      .slice(0, 5);
    for (const k of keys) nodes[0]!.write(k, `v-${k}`);
    const rounds = probeLoop(controller);
    try {
      const r = await kvctl.run(["migdata", "-s", "0", "-t", "1", "-l", "300-399", "--wait"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/slots 300-399 -> shard 1: done/);
      expect(r.stderr).toMatch(/task \S+: (queued|running)/);
      expect(r.stderr).toMatch(/task \S+: succeeded, 100\/100 slots \(100%\)/);
    } finally {
      await rounds.stop();
    }
    for (const k of keys) expect(nodes[2]!.read(k)).toBe(`v-${k}`);
    const { cluster } = await kvctl.json(["showcluster"]);
    expect(cluster.shards[1].slot_ranges).toContain("300-399");
  });

  it("migdata refuses slots that are not on the source shard", async () => {
    const r = await kvctl.run(["migdata", "-s", "0", "-t", "1", "-l", "9000"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/slots 9000 are not all on shard 0/);
  });

  it("failover -si SHARD -ni NODE promotes that node", async () => {
    const { cluster } = await kvctl.json(["showcluster"]);
    const replica = cluster.shards[1].nodes.find((n: { role: string }) => n.role === "slave");
    const out = await kvctl.json(["failover", "-si", "1", "-ni", replica.id.slice(0, 8)]);
    expect(out.new_master_id).toBe(replica.id);
    const after = (await kvctl.json(["showcluster"])).cluster;
    expect(after.shards[1].nodes.find((n: { role: string }) => n.role === "master").id).toBe(
      replica.id,
    );
  });

  it("addshard prints the plan, and adds the shards with -d", async () => {
    const plan = await kvctl.ok(["addshard", "-n", addrs(nodes.slice(8, 12)), "-s", "2"]);
    expect(plan).toMatch(new RegExp(`^2\\s+master\\s+${nodes[8]!.addr}\\s+-$`, "m"));
    expect(plan).toMatch(new RegExp(`^3\\s+slave\\s+${nodes[11]!.addr}$`, "m"));
    expect(plan).toMatch(/nothing was changed/);
    expect((await kvctl.json(["list", "shards"])).shards).toHaveLength(2);
    const out = await kvctl.ok(["addshard", "-n", addrs(nodes.slice(8, 12)), "-s", "2", "-d"]);
    expect(out).toBe("shard 2 added to ns2/seedc\nshard 3 added to ns2/seedc\n");
    const { shards } = await kvctl.json(["list", "shards"]);
    expect(shards.map((s: ShardJson) => [s.nodes.length, s.slot_ranges])).toEqual([
      [2, ["100-199", "201-299", "400-8191"]],
      [2, ["0-99", "200", "300-399", "8192-16383"]],
      [2, []],
      [2, []],
    ]);
  });
});

describe("help", () => {
  it("lists every command with a line each, both dialects", async () => {
    const out = await kvctl.ok(["help"]);
    for (const cmd of [
      "list RESOURCE",
      "get RESOURCE",
      "create namespace|cluster|shard|node",
      "delete namespace|cluster|shard|node",
      "import cluster",
      "migrate slot",
      "failover shard IDX",
      "sync cluster",
      "scale out|in",
      "cancel task",
      "top \\[cluster\\]",
      "use -n NS -c CL",
      "mkns NAME",
      "mkcl -cn NAME",
      "showcluster",
      "migdata -s SRC",
      "migslot -s SRC",
      "addshard -n NODES",
    ]) {
      expect(out).toMatch(new RegExp(`^  ${cmd.replace(/[|]/g, "\\|")}.*\\s{2}\\S`, "m"));
    }
    expect(out).toMatch(/Exit codes|exit codes/);
    const mkcl = await kvctl.ok(["mkcl", "--help"]);
    expect(mkcl).toMatch(/Usage: kvctl mkcl -cn NAME/);
    expect(mkcl).toMatch(/--cluster-name <name> +the new cluster's name \(seed: -cn\)/);
    expect(await kvctl.ok(["help", "migdata"])).toBe(
      (await kvctl.ok(["migdata", "--help"])).replace(/\n*$/, "\n"),
    );
  });
});
