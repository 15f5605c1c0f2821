// Migration benchmarks (issue 5): a slot-only move of 8192 slots through the HTTP app, and
// the controller's overhead per migrated range beyond the node's own copy time, with the
// probe running every interval. `npx tsx test/bench/migration.ts`; prints a table.
import { createApp } from "../../functions/app.js";
import type { Task } from "../../lib/model/index.js";
import { createCluster, getTask } from "../../lib/ops/index.js";
import { probeAllClusters, runSettingsFrom } from "../../lib/probe/index.js";
import { startSimNode } from "../support/kvrocks-sim/server.js";
import { benchEnv, header, row, simCluster, stats } from "./setup.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function appOf(b: Awaited<ReturnType<typeof benchEnv>>) {
  const app = createApp({
    ops: b.runtime.ops,
    auth: { tokens: [], readonlyTokens: [] },
    bodyLimitBytes: 1 << 20,
    probeFailures: 3,
  });
  return async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { data: { task: Task } } };
  };
}

/** Moves slots 0-8191 back and forth between two shards of three nodes each. */
async function slotOnlyMoves(repeats: number) {
  const b = await benchEnv();
  const call = appOf(b);
  try {
    await simCluster(b, "bench", "s", 6, 3);
    const times: number[] = [];
    // The first two warm up connections and the JIT; they are not counted.
    for (let i = 0; i < repeats + 2; i++) {
      const target = i % 2 === 0 ? 1 : 0;
      const started = performance.now();
      const res = await call("POST", "/api/v1/namespaces/bench/clusters/s/migrate", {
        target,
        slot: "0-8191",
        slot_only: true,
      });
      if (i >= 2) times.push(performance.now() - started);
      if (res.status !== 200) throw new Error(`slot-only move answered ${res.status}`);
    }
    return stats(times.map((t) => Math.round(t * 10) / 10));
  } finally {
    await b.close();
  }
}

/** A task of `ranges` ranges with the probe looping every `intervalMs`. */
async function dataMigration(ranges: number, nodeMs: number, intervalMs: number) {
  const b = await benchEnv({ KVC_PROBE_INTERVAL_MS: String(intervalMs) });
  const call = appOf(b);
  const settings = runSettingsFrom(b.runtime.config);
  const deps = { ...b.runtime.ops, etcd: b.runtime.etcd };
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const started = Date.now();
      await probeAllClusters(deps, settings);
      await sleep(Math.max(0, intervalMs - (Date.now() - started)));
    }
  })();
  try {
    const nodes = [];
    for (let i = 0; i < 4; i++) nodes.push(await startSimNode({ migrationDelayMs: nodeMs }));
    b.nodes.push(...nodes);
    await b.runtime.store.createNamespace("bench");
    await createCluster(b.runtime.ops, "bench", {
      name: "d",
      nodes: nodes.map((n) => n.addr),
      replicas: 2,
      password: "",
    });
    // Keys everywhere (nodes 0 and 2 are the masters); those in moved slots are copied.
    for (let i = 0; i < 2000; i++) {
      const key = `k:${i}`;
      try {
        nodes[0]!.write(key, "v");
      } catch {
        nodes[2]!.write(key, "v");
      }
    }
    const slots = Array.from({ length: ranges }, (_, i) => `${i * 100}-${i * 100 + 99}`);
    const started = performance.now();
    const res = await call("POST", "/api/v1/namespaces/bench/clusters/d/migrate", {
      target: 1,
      slots,
    });
    if (res.status !== 202) throw new Error(`migrate answered ${res.status}`);
    let task = res.body.data.task;
    while (task.state === "running" || task.state === "queued") {
      await sleep(2);
      task = await getTask(b.runtime.store, "bench", "d", task.id);
    }
    const total = performance.now() - started;
    if (task.state !== "succeeded") throw new Error(`task ${task.state}: ${task.error}`);
    return { total, perRange: (total - ranges * nodeMs) / ranges };
  } finally {
    stop = true;
    await loop;
    await b.close();
  }
}

export async function benchMigration() {
  const slotOnly = await slotOnlyMoves(Number(process.env.BENCH_REPEATS ?? 20));
  const nodeMs = 200;
  const fast = await dataMigration(8, nodeMs, 1000);
  const quick = await dataMigration(8, nodeMs, 250);
  header("migration");
  row(
    "slot-only move of 8192 slots via HTTP (CAS + push to 6 nodes), median / p99",
    `${slotOnly.median} / ${slotOnly.p99} ms`,
    "≤ 100 ms",
    slotOnly.p99 <= 100,
  );
  row(
    `controller overhead per range beyond the node's ${nodeMs} ms, probe every 1000 ms`,
    `${Math.round(fast.perRange)} ms (8 ranges in ${Math.round(fast.total)} ms)`,
    "≤ 1000 ms",
    fast.perRange <= 1000,
  );
  row(
    `controller overhead per range beyond the node's ${nodeMs} ms, probe every 250 ms`,
    `${Math.round(quick.perRange)} ms (8 ranges in ${Math.round(quick.total)} ms)`,
    "≤ 250 ms",
    quick.perRange <= 250,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchMigration().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
