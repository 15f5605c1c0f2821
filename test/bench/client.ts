// What a client sees (real Kvrocks only, KVROCKS_BIN): an ioredis Cluster client with 12
// concurrent writers of unique keys while the controller fails over a SIGKILLed master,
// switches a shard's master 3 times, and migrates a 1,500-slot range. Prints a table; skipped,
// saying so, without KVROCKS_BIN.
import { createApp } from "../../functions/app.js";
import { NodePool } from "../../lib/kvrocks/index.js";
import { masterOf } from "../../lib/model/index.js";
import { probeAllClusters, runSettingsFrom } from "../../lib/probe/index.js";
import { clusterClient, Load } from "../support/cluster-load.js";
import { kvrocksBin, startTestNodes } from "../support/nodes.js";
import { benchEnv, header, row } from "./setup.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchClient(): Promise<void> {
  if (kvrocksBin() === undefined) {
    console.log("\n### What a client sees: skipped (set KVROCKS_BIN to a Kvrocks binary)");
    return;
  }
  const b = await benchEnv({ KVC_PROBE_FAILURES: "3", KVC_NODE_TIMEOUT_MS: "1000" });
  const config = b.runtime.config;
  const app = createApp({
    ops: b.runtime.ops,
    auth: config.auth,
    bodyLimitBytes: config.http.bodyLimitBytes,
    probeFailures: config.probe.failures,
  });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    // biome-ignore lint/suspicious/noExplicitAny: the API's JSON answers
    return { status: res.status, body: (await res.json().catch(() => null)) as any };
  };
  const nodes = await startTestNodes(6);
  const nodePool = new NodePool();
  const settings = runSettingsFrom(config);
  let probing = true;
  // The probe as `--for 55s --every 1s` runs it.
  const probe = (async () => {
    while (probing) {
      const started = Date.now();
      await probeAllClusters({ ...b.runtime.ops, etcd: b.runtime.etcd, nodePool }, settings).catch(
        () => {},
      );
      await sleep(Math.max(0, 1000 - (Date.now() - started)));
    }
  })();
  const base = "/api/v1/namespaces/bench/clusters/c";
  const client = clusterClient(nodes[0]!);
  const load = new Load(client);
  try {
    await call("POST", "/api/v1/namespaces", { namespace: "bench" });
    const created = await call("POST", "/api/v1/namespaces/bench/clusters", {
      name: "c",
      nodes: nodes.map((n) => n.addr),
      replicas: 2,
    });
    if (created.status !== 201) throw new Error(`create: ${JSON.stringify(created.body)}`);
    await client.set("hello", "world");
    load.start();
    await sleep(2000);

    // Kill: time until a write to the dead master's slots, sent after it died, succeeds.
    load.phase = "failover";
    const cluster = (await b.runtime.store.getCluster("bench", "c")).cluster;
    const shard = cluster.shards[1]!;
    const victim = nodes.find((n) => n.addr === masterOf(shard)!.addr)!;
    const killedAt = Date.now();
    await victim.kill();
    load.watch = {
      slots: (s) => shard.slot_ranges.some((r) => s >= r.start && s <= r.stop),
      since: Date.now(),
      firstOk: null,
    };
    while (load.watch.firstOk === null && Date.now() - killedAt < 60_000) await sleep(20);
    const killToWrites = (load.watch.firstOk ?? Number.NaN) - killedAt;
    load.watch = null;
    await victim.restart();
    await sleep(3000);

    load.phase = "switchover";
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      let res = await call("POST", `${base}/shards/0/failover`, {});
      while (res.status !== 200 && Date.now() - started < 30_000) {
        await sleep(250);
        res = await call("POST", `${base}/shards/0/failover`, {});
      }
      await sleep(1000);
    }

    load.phase = "migrate";
    const now = (await b.runtime.store.getCluster("bench", "c")).cluster;
    const source = now.shards.findIndex((s) => s.slot_ranges.some((r) => r.start === 0));
    const res = await call("POST", `${base}/migrate`, {
      target: source === 0 ? 1 : 0,
      slot: "0-1499",
    });
    const id = res.body?.data?.task?.id;
    const started = Date.now();
    for (;;) {
      const t = await call("GET", `${base}/tasks/${id}`);
      if (
        !["queued", "running"].includes(t.body?.data?.task?.state) ||
        Date.now() - started > 120_000
      )
        break;
      await sleep(200);
    }
    await sleep(1000);
    await load.stop();

    const lost = {
      failover: (await load.lost("failover")).length,
      switchover: (await load.lost("switchover")).length,
      migrate: (await load.lost("migrate")).length,
    };
    const s = load.stats;
    header("What a client sees (real Kvrocks, ioredis Cluster, 12 writers, probe every 1 s)");
    row("kill -9 master -> its slots take writes again", `${killToWrites} ms`, "", null);
    row(
      "writes during failover: acknowledged / errors / lost",
      `${s.writes.get("failover") ?? 0} / ${s.errors.get("failover") ?? 0} / ${lost.failover}`,
      "",
      null,
    );
    row(
      "switchover stall (slowest write, 3 switchovers)",
      `${s.maxLatencyMs.get("switchover") ?? 0} ms`,
      "",
      null,
    );
    row(
      "switchover: acknowledged / errors / lost",
      `${s.writes.get("switchover") ?? 0} / ${s.errors.get("switchover") ?? 0} / ${lost.switchover}`,
      "0 lost",
      lost.switchover === 0,
    );
    row(
      "1,500-slot migration: acknowledged / client errors / lost",
      `${s.writes.get("migrate") ?? 0} / ${s.errors.get("migrate") ?? 0} / ${lost.migrate}`,
      "0 errors, 0 lost",
      (s.errors.get("migrate") ?? 0) === 0 && lost.migrate === 0,
    );
    row("migration stall (slowest write)", `${s.maxLatencyMs.get("migrate") ?? 0} ms`, "", null);
  } finally {
    await load.stop();
    probing = false;
    await probe;
    client.disconnect();
    nodePool.close();
    await Promise.all(nodes.map((n) => n.close()));
    await b.close();
  }
}
