// What a real cluster client sees: an ioredis Cluster (RESP2) with several concurrent writers
// of unique keys while the controller (a) fails over a SIGKILLed master, (b) switches one
// shard's master 10 times in a row, (c) migrates a 1,500-slot range with its data and
// (d) scales out onto two new nodes. Every acknowledged write is read back at the end.
// Real Kvrocks only (npm run test:kvrocks): the simulator has no CLUSTER SLOTS-driven client
// path worth measuring.
import type { Cluster as ClusterClient } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { masterOf } from "../../lib/model/index.js";
import { round } from "../probe/helpers.js";
import { clusterClient, Load } from "../support/cluster-load.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import { type TestNode, usingRealKvrocks } from "../support/nodes.js";

const NS = "client";
const CL = "c";
const base = `/api/v1/namespaces/${NS}/clusters/${CL}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!usingRealKvrocks())("a real cluster client", () => {
  let h: Harness;
  let nodes: TestNode[];
  let spare: TestNode[];
  let client: ClusterClient;
  let load: Load;
  let probing = true;
  let probeLoop: Promise<void>;
  const report: Record<string, unknown> = {};

  beforeAll(async () => {
    h = await startHarness({ label: "client", env: { KVC_PROBE_FAILURES: "3" } });
    nodes = await h.startTestNodes(6);
    spare = await h.startTestNodes(2);
    await h.createCluster(NS, CL, nodes, 2);
    // The probe, as a cron invocation with --every 250ms would run it.
    probeLoop = (async () => {
      while (probing) {
        await round(h).catch(() => {});
        await sleep(250);
      }
    })();
    client = clusterClient(nodes[0]!);
    await client.set("hello", "world");
    load = new Load(client);
    load.start();
    await sleep(1500);
  }, 120_000);

  afterAll(async () => {
    await load?.stop();
    probing = false;
    await probeLoop;
    client?.disconnect();
    const writes = Object.fromEntries(load?.stats.writes ?? []);
    report.maxLatencyMs = Object.fromEntries(load?.stats.maxLatencyMs ?? []);
    const errors = Object.fromEntries(load?.stats.errors ?? []);
    console.log(
      `real client: ${JSON.stringify({ ...report, writes, errors, lastError: Object.fromEntries(load?.stats.lastError ?? []) })}`,
    );
    await h?.close();
  }, 120_000);

  it("(a) a SIGKILLed master: its slots take writes again after the failover", async () => {
    load.phase = "failover";
    const cluster = await h.cluster(NS, CL);
    const shard = cluster.shards[1]!;
    const victim = nodes.find((n) => n.addr === masterOf(shard)!.addr)!;
    const owned = (slot: number) =>
      shard.slot_ranges.some((r) => slot >= r.start && slot <= r.stop);
    await sleep(500);
    const killedAt = Date.now();
    await victim.kill();
    // Writes sent before the process was gone may still have been answered by it.
    load.watch = { slots: owned, since: Date.now(), firstOk: null };
    await eventually(
      async () => masterOf((await h.cluster(NS, CL)).shards[1]!)!.addr !== victim.addr,
      60_000,
      100,
    );
    report.failoverRecordedMs = Date.now() - killedAt;
    await eventually(() => load.watch?.firstOk != null, 60_000, 50);
    report.killToWritesMs = load.watch!.firstOk! - killedAt;
    load.watch = null;
    await victim.restart();
    await sleep(1000);
    const lost = await load.lost("failover");
    report.failoverLost = lost.length;
    report.failoverWrites = load.stats.writes.get("failover");
    expect(report.killToWritesMs).toBeGreaterThan(0);
  });

  it("(b) 10 planned switchovers of one shard in a row lose no acknowledged write", async () => {
    load.phase = "switchover";
    const stalls: number[] = [];
    for (let i = 0; i < 10; i++) {
      const started = Date.now();
      let res = await h.request("POST", `${base}/shards/0/failover`, {});
      // A replica still syncing is refused; wait for it as an operator would.
      while (res.status !== 200 && Date.now() - started < 30_000) {
        await sleep(250);
        res = await h.request("POST", `${base}/shards/0/failover`, {});
      }
      expect(res.status, res.text).toBe(200);
      stalls.push(Date.now() - started);
      await sleep(500);
    }
    report.switchoverMs = stalls;
    await sleep(1000);
    const lost = await load.lost("switchover");
    report.switchoverLost = lost.length;
    report.switchoverErrors = load.stats.errors.get("switchover") ?? 0;
    expect(lost, lost.slice(0, 10).join(", ")).toEqual([]);
  });

  it("(c) a 1,500-slot data migration: no acknowledged write lost, no client error", async () => {
    load.phase = "migrate";
    await sleep(500);
    const cluster = await h.cluster(NS, CL);
    const source = cluster.shards.findIndex((s) =>
      s.slot_ranges.some((r) => r.start <= 0 && r.stop >= 1499),
    );
    const target = source === 0 ? 1 : 0;
    const res = await h.request("POST", `${base}/migrate`, { target, slot: "0-1499" });
    expect(res.status, res.text).toBe(202);
    const id = res.body.data.task.id;
    const started = Date.now();
    await eventually(
      async () => {
        const t = await h.request("GET", `${base}/tasks/${id}`);
        return !["queued", "running"].includes(t.body.data.task.state);
      },
      120_000,
      200,
    );
    report.migrateMs = Date.now() - started;
    const task = (await h.request("GET", `${base}/tasks/${id}`)).body.data.task;
    expect(task.state, JSON.stringify(task)).toBe("succeeded");
    await sleep(500);
    const lost = await load.lost("migrate");
    report.migrateLost = lost.length;
    report.migrateErrors = load.stats.errors.get("migrate") ?? 0;
    expect(lost, lost.slice(0, 10).join(", ")).toEqual([]);
    expect(load.stats.errors.get("migrate") ?? 0, load.stats.lastError.get("migrate")).toBe(0);
  }, 180_000);

  it("(d) scale out onto two new nodes: no acknowledged write lost, no client error", async () => {
    load.phase = "scale";
    await sleep(500);
    const res = await h.request("POST", `${base}/scale`, {
      add_shards: [{ nodes: spare.map((n) => n.addr) }],
    });
    expect(res.status, res.text).toBe(202);
    const started = Date.now();
    await eventually(
      async () => {
        const t = await h.request("GET", `${base}/tasks`);
        return t.body.data.tasks.every(
          (task: { state: string }) => !["queued", "running"].includes(task.state),
        );
      },
      300_000,
      250,
    );
    report.scaleMs = Date.now() - started;
    const tasks = (await h.request("GET", `${base}/tasks`)).body.data.tasks;
    expect(
      tasks.every((t: { state: string }) => t.state === "succeeded"),
      JSON.stringify(tasks),
    ).toBe(true);
    await sleep(500);
    const lost = await load.lost("scale");
    report.scaleLost = lost.length;
    report.scaleErrors = load.stats.errors.get("scale") ?? 0;
    expect(lost, lost.slice(0, 10).join(", ")).toEqual([]);
    expect(load.stats.errors.get("scale") ?? 0, load.stats.lastError.get("scale")).toBe(0);
  }, 360_000);

  it("every acknowledged write outside the failover reads back", async () => {
    await load.stop();
    const lost = (await load.lost()).filter((k) => !k.startsWith("failover:"));
    report.totalAcked = load.stats.acked.size;
    expect(lost, lost.slice(0, 10).join(", ")).toEqual([]);
  }, 120_000);
});
