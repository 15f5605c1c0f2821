// kvctl drain node, undrain node and set password against a real controller over simulated
// nodes: a node named by id prefix or host:port, the password read from stdin, never echoed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SimNode } from "../support/kvrocks-sim/server.js";
import { addrs, apiGet, type Controller, Kvctl, simNodes, startController } from "./harness.js";

let controller: Controller;
let kvctl: Kvctl;
let nodes: SimNode[];

beforeAll(async () => {
  controller = await startController({
    label: "cli-maint",
    env: { KVC_API_TOKENS: "tok-full" },
  });
  kvctl = new Kvctl({ KVCTL_HOST: controller.url, KVCTL_TOKEN: "tok-full" });
  nodes = await simNodes(2, { password: "first-pass" });
  await kvctl.ok(["create", "namespace", "nm"]);
  await kvctl.run([
    "create",
    "cluster",
    "cm",
    "-n",
    "nm",
    "--nodes",
    addrs(nodes),
    "-r",
    "2",
    "--password",
    "first-pass",
  ]);
  await kvctl.ok(["use", "-n", "nm", "-c", "cm"]);
});
afterAll(async () => {
  await controller?.close();
  await Promise.all(nodes?.map((n) => n.close()) ?? []);
  kvctl?.cleanup();
});

describe("kvctl drain / undrain", () => {
  it("drains the master by host:port (switched over first) and undrains it back to master", async () => {
    const drained = await kvctl.run(["drain", "node", nodes[0]!.addr]);
    expect(drained.stderr).toBe("");
    expect(drained.stdout).toMatch(
      new RegExp(`node ${nodes[0]!.addr} drained \\(shard 0 switched over to [0-9a-f]{40}\\)`),
    );
    const cluster = (await apiGet(controller, "/namespaces/nm/clusters/cm", "tok-full")).cluster;
    const node = cluster.shards[0].nodes.find((n: { addr: string }) => n.addr === nodes[0]!.addr);
    expect(node.role).toBe("slave");
    expect(node.drained_at).toBeGreaterThan(0);

    const back = await kvctl.run(["undrain", "node", node.id.slice(0, 8), "--restore-master"]);
    expect(back.stderr).toBe("");
    expect(back.stdout).toMatch(/undrained \(\d+ writes behind\); master of shard 0 again/);
  });

  it("says why with exit 1 when the node is unknown or the last one in service", async () => {
    const unknown = await kvctl.run(["drain", "node", "127.0.0.1:1"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no node at 127\.0\.0\.1:1/);
    await kvctl.ok(["drain", "node", nodes[1]!.addr]);
    const last = await kvctl.run(["drain", "node", nodes[0]!.addr]);
    expect(last.code).toBe(1);
    expect(last.stderr).toMatch(/every other node of shard 0 is drained/);
    await kvctl.ok(["undrain", "node", nodes[1]!.addr]);
  });
});

describe("kvctl set password", () => {
  it("reads the new password from stdin, rotates every node and never prints it", async () => {
    const res = await kvctl.run(["set", "password"], {}, "second-pass\n");
    expect(res.stderr).toBe("");
    expect(res.stdout).toBe("password rotated on 2 node(s)\n");
    expect(res.stdout + res.stderr).not.toContain("second-pass");
    const shown = await kvctl.ok(["get", "cluster", "cm", "-o", "json"]);
    expect(shown).not.toContain("second-pass");
    const empty = await kvctl.run(["set", "password"], {}, "\n");
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/password: must not be empty/);
  });
});
