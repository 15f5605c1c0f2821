// kvctl with zones and node replacement: `addr@zone` in node lists, `--zone` where one node is
// named, the scale plan's placement, warnings in `check cluster`, and `replace node --wait`
// against a controller whose probe runs in the background.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterJson } from "../../lib/model/index.js";
import type { SimNode } from "../support/kvrocks-sim/server.js";
import { apiGet, type Controller, Kvctl, probeLoop, simNodes, startController } from "./harness.js";

let controller: Controller;
let kvctl: Kvctl;
let nodes: SimNode[];

beforeAll(async () => {
  controller = await startController({ label: "cli-zones" });
  kvctl = new Kvctl({ KVCTL_HOST: controller.url });
  nodes = await simNodes(8);
  await kvctl.ok(["create", "namespace", "zn"]);
}, 60_000);
afterAll(async () => {
  await controller?.close();
  await Promise.all(nodes?.map((n) => n.close()) ?? []);
  kvctl?.cleanup();
});

const stored = async (cl: string): Promise<ClusterJson> =>
  (await apiGet(controller, `/namespaces/zn/clusters/${cl}`)).cluster;
const at = (i: number, zone: string) => `${nodes[i]!.addr}@${zone}`;

describe("zones in kvctl", () => {
  it("creates a cluster from addr@zone lists, each shard spread, and lists the zones", async () => {
    const list = [at(0, "a"), at(1, "a"), at(2, "b"), at(3, "b")].join(",");
    await kvctl.ok(["create", "cluster", "c1", "-n", "zn", "--nodes", list, "-r", "2"]);
    const cluster = await stored("c1");
    for (const shard of cluster.shards)
      expect(new Set(shard.nodes.map((n) => n.zone))).toEqual(new Set(["a", "b"]));
    const out = await kvctl.ok(["list", "nodes", "-n", "zn", "-c", "c1"]);
    expect(out).toMatch(/ZONE/i);
    expect(out).toMatch(/\ba\b/);
  });

  it("shows the placement in a scale-out plan and adds a replica with --zone where it fits", async () => {
    const plan = await kvctl.ok([
      "scale",
      "out",
      "-n",
      "zn",
      "-c",
      "c1",
      "--dry-run",
      "--nodes",
      `${at(4, "a")},${at(5, "a")}`,
      "--nodes",
      `${at(6, "b")},127.0.0.1:1@b`,
    ]);
    expect(plan).toMatch(/new shard +role +address +zone/i);
    const json = await kvctl.json([
      "create",
      "node",
      nodes[7]!.addr,
      "--zone",
      "c",
      "-n",
      "zn",
      "-c",
      "c1",
    ]);
    expect(json.shard).toBe(0);
    expect(json.node.zone).toBe("c");
  });

  it("prints zone warnings in check cluster", async () => {
    const extra = await simNodes(2);
    nodes.push(...extra);
    await kvctl.ok([
      "create",
      "cluster",
      "c2",
      "-n",
      "zn",
      "-r",
      "2",
      "--nodes",
      `${extra[0]!.addr}@a,${extra[1]!.addr}@a`,
    ]);
    const r = await kvctl.run(["check", "cluster", "-n", "zn", "-c", "c2"]);
    expect(r.stdout + r.stderr).toMatch(/losing zone a would leave shard 0 with no node/);
  });
});

describe("replace node", () => {
  it("replaces a master with --wait, the new node in the old one's zone", async () => {
    const [fresh] = await simNodes(1);
    nodes.push(fresh!);
    const loop = probeLoop(controller);
    try {
      const before = await stored("c1");
      const old = before.shards[1]!.nodes.find((n) => n.role === "master")!;
      const out = await kvctl.ok([
        "replace",
        "node",
        old.id.slice(0, 8),
        "--with",
        `${fresh!.addr}@${old.zone}`,
        "-n",
        "zn",
        "-c",
        "c1",
        "--wait",
      ]);
      expect(out).toContain(`${old.addr} replaced by ${fresh!.addr}`);
      const after = await stored("c1");
      const master = after.shards[1]!.nodes.find((n) => n.role === "master")!;
      expect(master.addr).toBe(fresh!.addr);
      expect(master.zone).toBe(old.zone);
      expect(after.shards.flatMap((s) => s.nodes.map((n) => n.addr))).not.toContain(old.addr);
    } finally {
      await loop.stop();
    }
  }, 120_000);

  it("says why in a 4xx: an unknown node", async () => {
    const r = await kvctl.run([
      "replace",
      "node",
      "127.0.0.1:9",
      "--with",
      "127.0.0.1:10",
      "-n",
      "zn",
      "-c",
      "c1",
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/127\.0\.0\.1:9 is not in cluster zn\/c1/);
  });
});
