// What a real cluster client sees: an ioredis Cluster (RESP2) with several concurrent writers
// of unique keys while the controller (a) fails over a SIGKILLed master, (b) switches one
// shard's master 10 times in a row, (c) migrates a 1,500-slot range with its data and
// (d) scales out onto two new nodes. Every acknowledged write is read back at the end: none
// may be lost but, in (a), writes the killed master acknowledged that its replica had not
// received yet, which (a) checks against the replica's sequence at the kill.
// Real Kvrocks only (npm run test:kvrocks): the simulator has no CLUSTER SLOTS-driven client
// path worth measuring.
import type { Cluster as ClusterClient } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseNodeInfo } from "../../lib/kvrocks/parse.js";
import { masterOf } from "../../lib/model/index.js";
import { listHistory } from "../../lib/ops/index.js";
import { round } from "../probe/helpers.js";
import { clusterClient, Load } from "../support/cluster-load.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import { keySlot } from "../support/kvrocks-sim/keyslot.js";
import { type TestNode, usingRealKvrocks } from "../support/nodes.js";

const NS = "client";
const CL = "c";
const base = `/api/v1/namespaces/${NS}/clusters/${CL}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WRITERS = 12;
/** The share of the measured flat-out write rate the phases run at (see beforeAll). */
const LOAD_FRACTION = 0.25;
/** RocksDB's latest sequence on a node: the writes it has applied (`INFO`). */
const sequenceOf = async (n: TestNode) => parseNodeInfo(String(await n.call("INFO"))).sequence;

describe.skipIf(!usingRealKvrocks())("a real cluster client", () => {
  let h: Harness;
  let nodes: TestNode[];
  let spare: TestNode[];
  let client: ClusterClient;
  let load: Load;
  let probing = true;
  let probeLoop: Promise<void>;
  const report: Record<string, unknown> = {};
  /** The failover's lost writes, as (a) found and explained them. */
  let failoverLost: string[] = [];

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
    load.timed.add("failover");
    // Sized to the machine: the writers first run flat out (closed loop) to measure what the
    // cluster sustains here, then are paced at a quarter of it. Flat out, the nodes have no
    // CPU left on 2 cores for a migration's copying, RocksDB's compactions and a new
    // replica's full sync, and answers stall past the client's 2 s command timeout; how
    // much a write waits is then the machine's load, not the controller's doing.
    load.start(WRITERS);
    const warmupFrom = Date.now();
    await sleep(1500);
    const capacity = ((load.stats.writes.get("warmup") ?? 0) * 1000) / (Date.now() - warmupFrom);
    load.rate = Math.max(200, Math.round(capacity * LOAD_FRACTION));
    report.capacityPerSec = Math.round(capacity);
    report.ratePerSec = load.rate;
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
    if (load?.errorLog.length) console.log(`failed writes: ${JSON.stringify(load.errorLog)}`);
    await h?.close();
  }, 120_000);

  it("(a) a SIGKILLed master: its slots take writes again, and only writes its replica had not yet received are lost", async () => {
    load.phase = "failover";
    const cluster = await h.cluster(NS, CL);
    const shard = cluster.shards[1]!;
    const victim = nodes.find((n) => n.addr === masterOf(shard)!.addr)!;
    const replicas = shard.nodes
      .filter((n) => n.role === "slave")
      .map((n) => nodes.find((x) => x.addr === n.addr)!);
    const owned = (slot: number) =>
      shard.slot_ranges.some((r) => slot >= r.start && slot <= r.stop);
    await sleep(500);
    const masterSequenceBefore = await sequenceOf(victim);
    const readAt = Date.now();
    const killedAt = Date.now();
    await victim.kill();
    const deadAt = Date.now();
    // The replicas' data at the kill: their master is gone, so their sequence stays put.
    const replicaSequence = new Map(
      await Promise.all(replicas.map(async (r) => [r.addr, await sequenceOf(r)] as const)),
    );
    // Writes sent before the process was gone may still have been answered by it.
    load.watch = { slots: owned, since: deadAt, firstOk: null };
    await eventually(
      async () => masterOf((await h.cluster(NS, CL)).shards[1]!)!.addr !== victim.addr,
      60_000,
      100,
    );
    report.failoverRecordedMs = Date.now() - killedAt;
    await eventually(() => load.watch?.firstOk != null, 60_000, 50);
    const firstOk = load.watch!.firstOk!;
    load.watch = null;
    report.killToWritesMs = firstOk - killedAt;
    const promoted = masterOf((await h.cluster(NS, CL)).shards[1]!)!;
    const [record] = await listHistory(h.runtime.store, NS, CL);
    expect(record).toMatchObject({ outcome: "promoted", new_master_addr: promoted.addr });
    // The slots took writes again through the promoted replica, not before it was chosen.
    expect(firstOk).toBeGreaterThanOrEqual(record!.at);
    await victim.restart();
    await sleep(1000);
    failoverLost = await load.lost("failover");
    report.failoverLost = failoverLost.length;
    report.failoverWrites = load.stats.writes.get("failover");

    // Kill -9 of a master loses at most what its replica had not received: writes the old
    // master acknowledged (answered before it was gone) past the promoted replica's sequence.
    // The replica applies the master's stream in order and each writer waits for its answer,
    // so of each writer's writes to these slots the replica holds a prefix: the lost ones are
    // the last it sent to the old master.
    const sentToOld = [...load.timing].filter(
      ([k, t]) => k.startsWith("failover:") && owned(keySlot(k)) && t.ackedAt <= deadAt,
    );
    const lostSet = new Set(failoverLost);
    for (const k of failoverLost) {
      expect(
        sentToOld.some(([x]) => x === k),
        `${k} lost, but not acknowledged by the old master`,
      ).toBe(true);
    }
    const byWriter = new Map<string, { n: number; lost: boolean }[]>();
    for (const [k] of sentToOld) {
      const [, w, n] = k.split(":");
      byWriter.set(w!, [...(byWriter.get(w!) ?? []), { n: Number(n), lost: lostSet.has(k) }]);
    }
    for (const [w, writes] of byWriter) {
      writes.sort((a, b) => a.n - b.n);
      const firstLost = writes.findIndex((x) => x.lost);
      if (firstLost >= 0)
        expect(
          writes.slice(firstLost).every((x) => x.lost),
          `writer ${w}: a write after a lost one reads back`,
        ).toBe(true);
    }
    // And no more than the sequences the replica was behind (each write takes at least one),
    // counting writes the old master took after the sequence was read.
    const gap = masterSequenceBefore - replicaSequence.get(promoted.addr)!;
    const after = sentToOld.filter(([, t]) => t.ackedAt >= readAt).length + WRITERS;
    report.failoverReplicaBehind = gap;
    expect(failoverLost.length).toBeLessThanOrEqual(Math.max(0, gap) + after);
  });

  it("(b) 10 planned switchovers of one shard in a row lose no acknowledged write", async () => {
    load.phase = "switchover";
    const stalls: number[] = [];
    for (let i = 0; i < 10; i++) {
      // The previous old master is a replica now: once it has caught up, as an operator
      // would wait, the switchover must be done on the first request.
      await eventually(
        async () => {
          const shard = (await h.cluster(NS, CL)).shards[0]!;
          const replica = nodes.find(
            (n) => n.addr === shard.nodes.find((x) => x.role === "slave")!.addr,
          )!;
          return /master_link_status:up/.test(String(await replica.call("INFO", "replication")));
        },
        60_000,
        100,
      );
      const started = Date.now();
      const res = await h.request("POST", `${base}/shards/0/failover`, {});
      expect(res.status, `switchover ${i + 1}: ${res.text}`).toBe(200);
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

  it("every acknowledged write reads back but the failover's explained losses", async () => {
    await load.stop();
    const lost = await load.lost();
    report.totalAcked = load.stats.acked.size;
    // The failover keys are read back too: exactly the ones (a) found lost and explained.
    expect(lost.sort(), lost.slice(0, 10).join(", ")).toEqual([...failoverLost].sort());
  }, 120_000);
});
