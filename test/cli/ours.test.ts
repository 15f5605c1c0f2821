// kvctl's own commands (health, failovers, sync, tasks, scale, --wait) against a real
// controller that requires a token.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keySlot } from "../support/kvrocks-sim/keyslot.js";
import type { SimNode } from "../support/kvrocks-sim/server.js";
import {
  addrs,
  apiGet,
  type Controller,
  Kvctl,
  probeLoop,
  simNodes,
  startController,
  waitFor,
} from "./harness.js";

let controller: Controller;
let kvctl: Kvctl;
let nodes: SimNode[];

beforeAll(async () => {
  controller = await startController({
    label: "cli-ours",
    env: { KVC_API_TOKENS: "tok-full", KVC_READONLY_TOKENS: "tok-ro" },
  });
  kvctl = new Kvctl({ KVCTL_HOST: controller.url, KVCTL_TOKEN: "tok-full" });
  nodes = await simNodes(6);
  await kvctl.ok(["create", "namespace", "ns3"]);
  await kvctl.ok([
    "create",
    "cluster",
    "c3",
    "-n",
    "ns3",
    "--nodes",
    addrs(nodes.slice(0, 4)),
    "-r",
    "2",
  ]);
  await kvctl.ok(["use", "-n", "ns3", "-c", "c3"]);
});
afterAll(async () => {
  await controller?.close();
  await Promise.all(nodes?.map((n) => n.close()) ?? []);
  kvctl?.cleanup();
});

const master = (shard: number) => nodes[shard * 2]!;

describe("tokens", () => {
  it("sends KVCTL_TOKEN or --token; the server's refusal is exit 1 with its message", async () => {
    const none = await kvctl.run(["list", "namespaces"], { KVCTL_TOKEN: "" });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^error: missing bearer token/);
    expect(await kvctl.ok(["list", "namespaces", "--token", "tok-ro"])).toBe("ns3\n");
    const ro = await kvctl.run(["create", "namespace", "x", "--token", "tok-ro"]);
    expect(ro.code).toBe(1);
    expect(ro.stderr).toMatch(/read-only/);
  });
});

describe("health, sync, failovers", () => {
  it("get health shows what the probe saw", async () => {
    expect(await kvctl.ok(["get", "health"])).toMatch(/master\s+unknown/);
    const health = () => apiGet(controller, "/namespaces/ns3/clusters/c3/health", "tok-full");
    const rounds = probeLoop(controller);
    try {
      await waitFor(async () => (await health()).nodes.every((n: { probed: boolean }) => n.probed));
      const seen = await kvctl.json(["get", "health"]);
      expect(seen.nodes_down).toBe(0);
      expect(seen.nodes.every((n: { up: boolean }) => n.up)).toBe(true);
      await nodes[3]!.stop();
      await waitFor(async () => (await health()).nodes_down === 1);
      const text = await kvctl.ok(["get", "health"]);
      expect(text).toMatch(/^nodes down: +1$/m);
      expect(text).toMatch(new RegExp(`${nodes[3]!.addr}\\s+slave\\s+down \\(\\d+ failed\\)`));
      await nodes[3]!.start();
      await waitFor(async () => (await health()).nodes_down === 0);
    } finally {
      await rounds.stop();
    }
  });

  it("sync cluster pushes the topology to every node", async () => {
    const out = await kvctl.ok(["sync", "cluster", "--force"]);
    expect(out).toMatch(/topology pushed to all 4 nodes/);
    const { results } = await kvctl.json(["sync", "cluster", "c3", "-n", "ns3"]);
    expect(results.map((r: { ok: boolean }) => r.ok)).toEqual([true, true, true, true]);
  });

  it("list failovers shows a manual failover", async () => {
    expect(await kvctl.ok(["list", "failovers"])).toBe("No failovers recorded.\n");
    await kvctl.ok(["failover", "shard", "1"]);
    const text = await kvctl.ok(["list", "failovers"]);
    expect(text).toMatch(/TIME\s+SHARD\s+OLD MASTER\s+NEW MASTER\s+REASON/);
    expect(text).toMatch(
      new RegExp(
        `\\s1\\s+${nodes[2]!.addr} \\(\\w{8}\\)\\s+${nodes[3]!.addr} \\(\\w{8}\\)\\s+manual`,
      ),
    );
    // Back again, so shard 1's master is nodes[2].
    await kvctl.ok(["failover", "shard", "1"]);
    expect((await kvctl.json(["list", "failovers"])).failovers).toHaveLength(2);
  });
});

describe("migration tasks", () => {
  it("migrate --wait follows a data migration to its end, range by range; list/get task show it", async () => {
    const key = Array.from({ length: 5000 }, (_, i) => `k${i}`).find((k) => keySlot(k) <= 1023)!;
    master(0).write(key, "x");
    const rounds = probeLoop(controller);
    let r: Awaited<ReturnType<Kvctl["run"]>>;
    try {
      r = await kvctl.run([
        "migrate",
        "slot",
        "0-1023,2048-3071",
        "--target",
        "1",
        "--max-range-slots",
        "512",
        "--speed",
        "8000",
        "--wait",
      ]);
    } finally {
      await rounds.stop();
    }
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^task \S+: (queued|running), 0\/2048 slots \(0%\), 0\/4 ranges(, range 0-511)?, elapsed /m,
    );
    // (The ETA once a range is done is the unit test's: the polls may see no such moment.)
    expect(r.stderr).toMatch(
      /^task \S+: succeeded, 2048\/2048 slots \(100%\), 4\/4 ranges, elapsed /m,
    );
    expect(r.stdout).toMatch(/^slots 0-1023,2048-3071 -> shard 1: done/);
    const { tasks } = await kvctl.json(["list", "tasks"]);
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({
      state: "succeeded",
      source: 0,
      target: 1,
      slots_done: 2048,
      max_range_slots: 512,
      speed: 8000,
      ranges: ["0-511", "512-1023", "2048-2559", "2560-3071"],
    });
    expect(await kvctl.ok(["list", "tasks"])).toMatch(
      /succeeded\s+0 -> 1\s+0-1023,2048-3071\s+2048\/2048 \(100%\)/,
    );
    expect(await kvctl.ok(["get", "task", tasks[0].id])).toMatch(/^state: +succeeded$/m);
    expect(master(1).read(key)).toBe("x");
  });

  it("--wait exits 1 with the reason when the task fails", async () => {
    master(0).setFault({ migration: "fail" });
    const rounds = probeLoop(controller);
    try {
      const r = await kvctl.run(["migrate", "slot", "4000-4099", "--target", "1", "--wait"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error: task \S+ failed: .+/m);
    } finally {
      await rounds.stop();
      master(0).setFault({ migration: "ok" });
    }
  });

  it("cancel task stops a running task after its range in flight", async () => {
    const started = await kvctl.json(["migrate", "slot", "5000-5099,5200-5299", "--target", "1"]);
    const id = started.task.id;
    expect(await kvctl.ok(["cancel", "task", id])).toMatch(/cancel requested|cancelled/);
    const rounds = probeLoop(controller);
    try {
      const r = await kvctl.run(["get", "task", id, "--wait"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`error: task ${id} cancelled`));
    } finally {
      await rounds.stop();
    }
    const { task } = await kvctl.json(["get", "task", id]);
    expect(task.state).toBe("cancelled");
  });
});

describe("scale", () => {
  it("scale out --dry-run plans without changing anything; --wait adds and fills a shard", async () => {
    const dry = await kvctl.ok(["scale", "out", "--nodes", addrs(nodes.slice(4, 6)), "--dry-run"]);
    expect(dry).toMatch(/^shards to add: +1$/m);
    expect(dry).toMatch(/FROM SHARD\s+TO SHARD\s+SLOTS\s+RANGES/);
    expect(dry).toMatch(/dry run: nothing was changed/);
    expect((await kvctl.json(["list", "shards"])).shards).toHaveLength(2);

    const rounds = probeLoop(controller);
    try {
      // 2048-slot ranges: three per task rather than the default's 22 (a round each on a
      // loaded machine, with this probe's 100 ms watch).
      const r = await kvctl.run([
        "scale",
        "out",
        "--nodes",
        addrs(nodes.slice(4, 6)),
        "--max-range-slots",
        "2048",
        "--wait",
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/task\(s\) succeeded/);
    } finally {
      await rounds.stop();
    }
    const { tasks } = await kvctl.json(["list", "tasks"]);
    expect(tasks.some((t: { max_range_slots: number | null }) => t.max_range_slots === 2048)).toBe(
      true,
    );
    const { shards } = await kvctl.json(["list", "shards"]);
    expect(shards).toHaveLength(3);
    expect(shards[2].slot_ranges.length).toBeGreaterThan(0);
  });

  it("scale in --wait empties a shard and removes it", async () => {
    const dry = await kvctl.json(["scale", "in", "--shard", "2", "--dry-run"]);
    expect(dry.plan.remove_shards).toEqual([2]);
    const rounds = probeLoop(controller);
    try {
      // 2048-slot ranges, as the scale-out above: this is the CLI's wait, not the chunking
      // (test/migration/chunks.test.ts), and the default's 22 ranges took 30 s in CI.
      const r = await kvctl.run(["scale", "in", "-s", "2", "--max-range-slots", "2048", "--wait"]);
      expect(r.code, r.stderr).toBe(0);
    } finally {
      await rounds.stop();
    }
    const { shards } = await kvctl.json(["list", "shards"]);
    expect(shards).toHaveLength(2);
    expect(shards.flatMap((s: { slot_ranges: string[] }) => s.slot_ranges).length).toBeGreaterThan(
      0,
    );
  });
});
