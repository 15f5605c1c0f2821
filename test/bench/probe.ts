// Probe benchmarks (issue 4): detection-to-convergence time, failover time, and one round over
// 100 clusters x 10 simulator nodes. Prints a table; not part of the tests' pass/fail.
import { spawn } from "node:child_process";
import { NodePool } from "../../lib/kvrocks/index.js";
import { masterOf } from "../../lib/model/index.js";
import { createCluster, listHistory } from "../../lib/ops/index.js";
import { probeAllClusters, runSettingsFrom } from "../../lib/probe/index.js";
import { benchEnv, header, row, simCluster, stats } from "./setup.js";

async function failoverTimes(repeats: number) {
  // The one-count-per-round path (down-after 0); down-after.ts measures the default one.
  const b = await benchEnv({
    KVC_PROBE_INTERVAL_MS: "1000",
    KVC_PROBE_FAILURES: "3",
    KVC_PROBE_DOWN_AFTER_MS: "0",
  });
  const settings = runSettingsFrom(b.runtime.config);
  const nodePool = new NodePool();
  const deps = { ...b.runtime.ops, etcd: b.runtime.etcd, nodePool };
  const detect: number[] = [];
  const failover: number[] = [];
  try {
    for (let r = 0; r < repeats; r++) {
      const nodes = await simCluster(b, "bench", `f${r}`, 6, 2);
      const cluster = (await b.runtime.store.getCluster("bench", `f${r}`)).cluster;
      // A probe loop every second, as `--for 55s --every 1s` runs it; the master dies at a
      // random phase of the interval.
      let stopAt = 0;
      let done = false;
      const loop = (async () => {
        while (!done) {
          const started = Date.now();
          await probeAllClusters(deps, settings);
          await new Promise((res) => setTimeout(res, Math.max(0, 1000 - (Date.now() - started))));
        }
      })();
      await new Promise((res) => setTimeout(res, 1000 + Math.random() * 1000));
      const master = nodes.find((n) => n.addr === masterOf(cluster.shards[0]!)!.addr)!;
      stopAt = Date.now();
      await master.stop();
      const target = cluster.version + 1;
      while (!nodes.filter((n) => n.running).every((n) => n.state.version === target)) {
        await new Promise((res) => setTimeout(res, 5));
        if (Date.now() - stopAt > 15_000) throw new Error("no failover within 15 s");
      }
      detect.push(Date.now() - stopAt);
      done = true;
      await loop;
      const history = await listHistory(b.runtime.store, "bench", `f${r}`);
      failover.push(history[0]!.duration_ms);
      // Later clusters are probed too; close this one's nodes so rounds stay small.
      await b.runtime.store.deleteCluster("bench", `f${r}`);
      for (const n of nodes) await n.close();
    }
  } finally {
    nodePool.close();
    await b.close();
  }
  return { detect: stats(detect), failover: stats(failover) };
}

/** Simulator nodes in a child process, so the probe's own cost is what gets measured. */
export async function simProcess(count: number): Promise<{ addrs: string[]; stop: () => void }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "test/support/kvrocks-sim/main.ts", "--count", String(count)],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const addrs: string[] = [];
  await new Promise<void>((resolve, reject) => {
    let buffer = "";
    child.stdout.on("data", (d: Buffer) => {
      buffer += d.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) {
        if (line === "ready") resolve();
        else if (line) addrs.push(line);
      }
    });
    child.on("exit", (code) => reject(new Error(`simulator exited with ${code}`)));
  });
  return { addrs, stop: () => child.kill("SIGTERM") };
}

async function bigRound(clusters: number, perCluster: number) {
  const b = await benchEnv({ KVC_PROBE_CONCURRENCY: "32" });
  const settings = runSettingsFrom(b.runtime.config);
  const nodePool = new NodePool();
  const deps = { ...b.runtime.ops, etcd: b.runtime.etcd, nodePool };
  const sims = await simProcess(clusters * perCluster);
  try {
    await b.runtime.store.createNamespace("big");
    for (let i = 0; i < clusters; i++) {
      const addrs = sims.addrs.slice(i * perCluster, (i + 1) * perCluster);
      await createCluster(b.runtime.ops, "big", {
        name: `c${i}`,
        nodes: addrs,
        replicas: 2,
        password: "",
      });
    }
    await probeAllClusters(deps, settings); // first sight is recorded once
    const watcher = await b.runtime.etcd.watch().prefix("/kvrocks/").create();
    let writes = 0;
    watcher.on("put", (kv) => {
      if (!kv.key.toString().startsWith("/kvrocks/locks/")) writes++;
    });
    const times: number[] = [];
    for (let r = 0; r < 5; r++) {
      const started = Date.now();
      const summary = await probeAllClusters(deps, settings);
      times.push(Date.now() - started);
      if (summary.probed !== clusters) throw new Error(`probed ${summary.probed} of ${clusters}`);
    }
    await new Promise((res) => setTimeout(res, 200));
    await watcher.cancel();
    return { round: stats(times), writes, rss: process.memoryUsage().rss };
  } finally {
    nodePool.close();
    sims.stop();
    await b.close();
  }
}

export async function benchProbe() {
  const big = await bigRound(100, 10);
  const f = await failoverTimes(Number(process.env.BENCH_REPEATS ?? 5));
  header("probe");
  row(
    "master stop → all live nodes on new version (1 s × 3), median / p99",
    `${f.detect.median} / ${f.detect.p99} ms`,
    "≤ 4000 ms",
    f.detect.p99 <= 4000,
  );
  row(
    "threshold crossed → push done, median / p99",
    `${f.failover.median} / ${f.failover.p99} ms`,
    "≤ 100 ms",
    f.failover.p99 <= 100,
  );
  row(
    "one round, 100 clusters × 10 nodes, median / p99",
    `${big.round.median} / ${big.round.p99} ms`,
    "≤ 1000 ms",
    big.round.p99 <= 1000,
  );
  row("etcd writes in 5 healthy rounds (locks aside)", `${big.writes}`, "0", big.writes === 0);
  row("probe process RSS after the big rounds", `${Math.round(big.rss / 1048576)} MiB`, "", null);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchProbe().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
