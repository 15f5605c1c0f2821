// kvctl against the nodes through the controller: call, send_command_to_*, sync node, and
// check cluster (with --fix), with full and read-only tokens.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvrocksClient } from "../../lib/kvrocks/index.js";
import type { ClusterJson } from "../../lib/model/index.js";
import type { SimNode } from "../support/kvrocks-sim/server.js";
import { addrs, apiGet, type Controller, Kvctl, simNodes, startController } from "./harness.js";

let controller: Controller;
let kvctl: Kvctl;
let nodes: SimNode[];

beforeAll(async () => {
  controller = await startController({
    label: "cli-operate",
    env: { KVC_API_TOKENS: "tok-full", KVC_READONLY_TOKENS: "tok-ro" },
  });
  kvctl = new Kvctl({ KVCTL_HOST: controller.url, KVCTL_TOKEN: "tok-full" });
  nodes = await simNodes(4);
  await kvctl.ok(["create", "namespace", "ops"]);
  await kvctl.ok(["create", "cluster", "c1", "-n", "ops", "--nodes", addrs(nodes), "-r", "2"]);
  await kvctl.ok(["use", "-n", "ops", "-c", "c1"]);
});
afterAll(async () => {
  await controller?.close();
  await Promise.all(nodes?.map((n) => n.close()) ?? []);
  kvctl?.cleanup();
});

const stored = async (): Promise<ClusterJson> =>
  (await apiGet(controller, "/namespaces/ops/clusters/c1", "tok-full")).cluster;

/** Gives a node a topology of its own: itself alone, all slots, at `version`. */
async function pushForeign(node: SimNode, version: number) {
  const client = new KvrocksClient(node.addr, { timeoutMs: 2000 });
  try {
    const line = `${node.state.id} ${node.host} ${node.port} master - 0-16383`;
    await client.setNodes(line, version, true);
  } finally {
    client.close();
  }
}

describe("commands to the nodes", () => {
  it("sends a command to every node and prints each reply", async () => {
    const out = await kvctl.ok(["call", "CONFIG", "GET", "maxclients"]);
    for (const n of nodes) expect(out).toContain(`${n.addr} (`);
    expect(out).toContain("2) 10240");
    const json = await kvctl.json(["call", "--masters", "PING"]);
    expect(json.results).toHaveLength(2);
    expect(json.results.every((r: { reply: string }) => r.reply === "PONG")).toBe(true);
  });

  it("sends to one node with --node and the seed's send_command_to_node", async () => {
    const json = await kvctl.json(["call", "--node", nodes[1]!.addr, "ROLE"]);
    expect(json.results.map((r: { addr: string }) => r.addr)).toEqual([nodes[1]!.addr]);
    const seed = await kvctl.json(["send_command_to_node", nodes[2]!.addr, "DBSIZE"]);
    expect(seed.results).toEqual([expect.objectContaining({ addr: nodes[2]!.addr, reply: 0 })]);
    const all = await kvctl.json(["send_command_to_cluster", "CONFIG", "GET", "maxclients"]);
    expect(all.results).toHaveLength(4);
  });

  it("exits 1 with the reason for refused commands, and 1 when a node answers an error", async () => {
    for (const [args, reason] of [
      [["call", "FLUSHALL"], /force/],
      [["call", "CLUSTERX", "SETNODEID", "x"], /CLUSTERX SETNODEID is refused/],
      [["send_command_to_cluster", "SLAVEOF", "NO", "ONE"], /SLAVEOF is refused/],
      [["call", "SHUTDOWN"], /SHUTDOWN is refused/],
    ] as const) {
      const r = await kvctl.run([...args]);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr).toMatch(reason);
    }
    const bad = await kvctl.run(["call", "CONFIG", "SET", "nosuch", "1"]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/\(error\).*nosuch/);
    expect(bad.stderr).toMatch(/4 of 4 node\(s\) answered an error/);
  });

  it("lets a read-only token read, and refuses it a change", async () => {
    const env = { KVCTL_TOKEN: "tok-ro" };
    const info = await kvctl.run(["call", "INFO", "server"], env);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toContain("kvrocks_version");
    const set = await kvctl.run(["call", "CONFIG", "SET", "maxclients", "100"], env);
    expect(set.code).toBe(1);
    expect(set.stderr).toMatch(/read-only/);
    const check = await kvctl.run(["check", "cluster"], env);
    expect(check.code, check.stderr).toBe(0);
  });
});

describe("check cluster", () => {
  it("exits 0 on a healthy cluster", async () => {
    const r = await kvctl.run(["check", "cluster"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("[OK]");
    const json = await kvctl.json(["check", "cluster", "c1", "-n", "ops"]);
    expect(json.ok).toBe(true);
    expect(json.nodes).toHaveLength(4);
    for (const n of json.nodes) {
      expect(n.up).toBe(true);
      expect(n.view_matches).toBe(true);
      expect(n.kvrocks_version).toBe("2.10.1");
    }
  });

  it("names a node pushed a foreign topology, and --fix repairs it", async () => {
    const victim = nodes[1]!;
    await pushForeign(victim, (await stored()).version);
    const r = await kvctl.run(["check", "cluster"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`\\[ERR\\] ${victim.addr} disagrees`));
    const json = JSON.parse((await kvctl.run(["check", "cluster", "-o", "json"])).stdout);
    expect(json.repairs).toEqual([expect.objectContaining({ addr: victim.addr, force: true })]);

    const fixed = await kvctl.run(["check", "cluster", "--fix"]);
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
    expect(fixed.stderr).toContain(`pushing the topology to ${victim.addr}`);
    expect((await kvctl.run(["check", "cluster"])).code).toBe(0);
  });

  it("pushes to a node that claims a newer version only with --force", async () => {
    const victim = nodes[2]!;
    await pushForeign(victim, (await stored()).version + 5);
    const r = await kvctl.run(["check", "cluster", "--fix"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`skipped ${victim.addr}`);
    const forced = await kvctl.run(["check", "cluster", "--fix", "--force"]);
    expect(forced.code, forced.stdout + forced.stderr).toBe(0);
    expect(victim.state.version).toBe((await stored()).version);
  });

  it("reports a node that is down", async () => {
    const down = nodes[3]!;
    await down.stop();
    try {
      const r = await kvctl.run(["check", "cluster"]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(new RegExp(`\\[ERR\\] ${down.addr} is down`));
    } finally {
      await down.start();
    }
  });
});

describe("sync node", () => {
  it("pushes the topology to one node (kvctl sync node, sync_topo_to_node -n)", async () => {
    const victim = nodes[0]!;
    await pushForeign(victim, (await stored()).version);
    const out = await kvctl.ok(["sync", "node", victim.addr, "--force"]);
    expect(out).toContain(victim.addr);
    expect((await kvctl.run(["check", "cluster"])).code).toBe(0);
    await pushForeign(victim, (await stored()).version);
    await kvctl.ok(["sync_topo_to_node", "-n", victim.addr, "--force"]);
    expect((await kvctl.run(["check", "cluster"])).code).toBe(0);
  });
});
