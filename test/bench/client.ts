// What a client sees (real Kvrocks only, KVROCKS_BIN). `client`: a 2 -> 4 shard scale-out
// under a saturating write load (see benchScaleOut). `client-failover`: an ioredis Cluster
// client with 12 concurrent writers of unique keys while the controller fails over a SIGKILLed
// master, switches a shard's master 3 times, and migrates a 1,500-slot range. Each prints a
// table; skipped, saying so, without KVROCKS_BIN.

import { loadavg } from "node:os";
import { createApp } from "../../functions/app.js";
import { NodePool } from "../../lib/kvrocks/index.js";
import type { MigrationEvent } from "../../lib/migration/index.js";
import { masterOf } from "../../lib/model/index.js";
import { probeAllClusters, runSettingsFrom, startInvocation } from "../../lib/probe/index.js";
import { clusterClient, countRedirections, Load } from "../support/cluster-load.js";
import { kvrocksBin, startTestNodes, writeKeys } from "../support/nodes.js";
import { benchEnv, header, row, stats } from "./setup.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchClientFailover(): Promise<void> {
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

const PRELOAD = Number(process.env.BENCH_KEYS ?? 100_000);
const WRITERS = Number(process.env.BENCH_WRITERS ?? 16);
const BASELINE_MS = 10_000;
const SCALE_LIMIT_MS = Number(process.env.BENCH_SCALE_LIMIT_MS ?? 180_000);

interface ScaleRun {
  label: string;
  baseline: { p50: number; p99: number; max: number; rate: number };
  scale: {
    ms: number | null;
    errors: number;
    lastError: string;
    p50: number;
    p99: number;
    max: number;
    rate: number;
    tryagain: number;
    moved: number;
    lost: number;
  };
  /** `pushed` events: success seen -> every node on the new version (ms). */
  pushed: number[];
  ranges: number;
  load: string;
}

/** Acknowledged writes of the scale phase that do not read back (a client without timeouts). */
async function lostWrites(seed: { host: string; port: number }, load: Load): Promise<number> {
  const { Cluster } = await import("ioredis");
  const reader = new Cluster([seed], { redisOptions: { protocol: 2 } });
  reader.on("error", () => {});
  try {
    const keys = [...load.stats.acked].filter(([k]) => k.startsWith("scale:"));
    let missing = 0;
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const values = await Promise.all(chunk.map(([k]) => reader.get(k)));
      chunk.forEach(([, v], j) => {
        if (values[j] !== v) missing++;
      });
    }
    return missing;
  } finally {
    reader.disconnect();
  }
}

const pct = (list: number[]) => {
  const s = stats(list);
  return { p50: s.median, p99: s.p99, max: s.max };
};

/**
 * One 2 -> 4 shard scale-out (one node per shard, so the machine's cores go to the writes and
 * the copy), with PRELOAD keys in place and WRITERS closed-loop writers of new keys (ioredis
 * Cluster defaults, only commandTimeout: 1000): as many writes as the machine takes. The
 * probe runs as `--for ... --every 1s` does (one invocation, rounds every second).
 */
async function scaleOutUnderLoad(label: string, maxRangeSlots: number | undefined) {
  const env: Record<string, string> = { KVC_NODE_TIMEOUT_MS: "1000" };
  if (maxRangeSlots !== undefined) env.KVC_MIGRATION_MAX_RANGE_SLOTS = String(maxRangeSlots);
  const b = await benchEnv(env);
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
  const nodes = await startTestNodes(4);
  const nodePool = new NodePool();
  const settings = runSettingsFrom(config);
  const deps = { ...b.runtime.ops, etcd: b.runtime.etcd, nodePool };
  const events: MigrationEvent[] = [];
  let probing = true;
  const invocation = await startInvocation(deps, settings, true);
  const probe = (async () => {
    while (probing) {
      const started = Date.now();
      const summary = await probeAllClusters(deps, settings, undefined, invocation).catch(
        () => null,
      );
      for (const r of summary?.reports ?? []) events.push(...r.migrations);
      await sleep(Math.max(0, 1000 - (Date.now() - started)));
    }
  })();
  const base = "/api/v1/namespaces/bench/clusters/c";
  const client = clusterClient(nodes[0]!);
  const redirections = countRedirections(client);
  const load = new Load(client);
  load.keepLatencies = true;
  try {
    await call("POST", "/api/v1/namespaces", { namespace: "bench" });
    const created = await call("POST", "/api/v1/namespaces/bench/clusters", {
      name: "c",
      nodes: [nodes[0]!.addr, nodes[1]!.addr],
      replicas: 1,
    });
    if (created.status !== 201) throw new Error(`create: ${JSON.stringify(created.body)}`);
    const cluster = (await b.runtime.store.getCluster("bench", "c")).cluster;
    const entries = Array.from({ length: PRELOAD }, (_, i): [string, string] => [
      `pre:${i}`,
      `v${i}`,
    ]);
    const { keySlot } = await import("../support/kvrocks-sim/keyslot.js");
    for (const [shard, node] of [nodes[0]!, nodes[1]!].entries()) {
      const owned = cluster.shards[shard]!.slot_ranges;
      await writeKeys(
        node,
        entries.filter(([k]) => {
          const slot = keySlot(k);
          return owned.some((r) => slot >= r.start && slot <= r.stop);
        }),
      );
    }
    // The first command loads the slot map; the nodes may still be compacting the preload.
    for (let i = 0; ; i++) {
      try {
        await client.set("hello", "world");
        break;
      } catch (err) {
        if (i >= 10) throw err;
      }
    }
    console.error(`${label}: preloaded ${PRELOAD} keys; baseline`);
    load.start(WRITERS);
    await sleep(2000);
    load.phase = "baseline";
    const baseFrom = Date.now();
    await sleep(BASELINE_MS);
    const baseMs = Date.now() - baseFrom;
    const redirectsBefore = new Map(redirections);
    load.phase = "scale";
    const scaleFrom = Date.now();
    console.error(`${label}: scale-out`);
    const res = await call("POST", `${base}/scale`, {
      add_shards: [{ nodes: [nodes[2]!.addr] }, { nodes: [nodes[3]!.addr] }],
    });
    if (res.status !== 202) throw new Error(`scale: ${JSON.stringify(res.body)}`);
    const ranges = (res.body.data.tasks as { ranges: string[] }[]).reduce(
      (n, t) => n + t.ranges.length,
      0,
    );
    let finishedAt: number | null = null;
    while (Date.now() - scaleFrom < SCALE_LIMIT_MS) {
      const t = await call("GET", `${base}/tasks`);
      const tasks = (t.body?.data?.tasks ?? []) as { state: string }[];
      if (tasks.length > 0 && tasks.every((x) => !["queued", "running"].includes(x.state))) {
        finishedAt = Date.now();
        break;
      }
      await sleep(100);
    }
    const scaleMs = (finishedAt ?? Date.now()) - scaleFrom;
    load.phase = "warmup";
    await sleep(500);
    await load.stop();
    console.error(
      `${label}: scale-out ${finishedAt === null ? "not finished" : "finished"} after ${scaleMs} ms; reading back`,
    );
    // Read back with a patient client: the check is for lost writes, not for latency.
    const lost = await lostWrites(nodes[0]!, load);
    const s = load.stats;
    const since = (word: string) =>
      (redirections.get(word) ?? 0) - (redirectsBefore.get(word) ?? 0);
    const run: ScaleRun = {
      label,
      baseline: {
        ...pct(s.latencies.get("baseline") ?? []),
        rate: Math.round(((s.writes.get("baseline") ?? 0) * 1000) / baseMs),
      },
      scale: {
        ms: finishedAt === null ? null : scaleMs,
        errors: s.errors.get("scale") ?? 0,
        lastError: s.lastError.get("scale") ?? "",
        ...pct(s.latencies.get("scale") ?? []),
        rate: Math.round(((s.writes.get("scale") ?? 0) * 1000) / scaleMs),
        tryagain: since("TRYAGAIN"),
        moved: since("MOVED"),
        lost,
      },
      pushed: events.filter((e) => e.event === "pushed").map((e) => e.ms ?? Number.NaN),
      ranges,
      load: loadavg()
        .map((l) => l.toFixed(1))
        .join(" "),
    };
    return run;
  } finally {
    await load.stop();
    probing = false;
    await probe;
    await invocation.end();
    client.disconnect();
    nodePool.close();
    await Promise.all(nodes.map((n) => n.close()));
    await b.close();
  }
}

export async function benchScaleOut(): Promise<void> {
  if (kvrocksBin() === undefined) {
    console.log("\n### Scale-out under load: skipped (set KVROCKS_BIN to a Kvrocks binary)");
    return;
  }
  const only = process.env.BENCH_RANGE_SLOTS;
  const variants: [string, number | undefined][] = only
    ? only.split(",").map((k) => [`${k}-slot ranges`, Number(k)] as [string, number])
    : [
        ["default chunks", undefined],
        ["one range per move", 16384],
      ];
  const runs: ScaleRun[] = [];
  for (const [label, k] of variants) runs.push(await scaleOutUnderLoad(label, k));
  header(
    `2 -> 4 shard scale-out, real Kvrocks, ${PRELOAD} keys preloaded, ${WRITERS} closed-loop writers (ioredis defaults, commandTimeout 1000)`,
  );
  console.log(`| run | ${runs.map((r) => r.label).join(" | ")} |`);
  console.log(`|---|${runs.map(() => "---").join("|")}|`);
  const line = (name: string, f: (r: ScaleRun) => string) =>
    console.log(`| ${name} | ${runs.map(f).join(" | ")} |`);
  line("ranges moved", (r) => String(r.ranges));
  line("baseline writes/s", (r) => String(r.baseline.rate));
  line(
    "baseline p50 / p99 / max (ms)",
    (r) => `${r.baseline.p50} / ${r.baseline.p99} / ${r.baseline.max}`,
  );
  line("scale-out duration", (r) =>
    r.scale.ms === null
      ? `not done in ${SCALE_LIMIT_MS / 1000} s`
      : `${(r.scale.ms / 1000).toFixed(1)} s`,
  );
  line("writes/s during scale-out", (r) => String(r.scale.rate));
  line(
    "client errors (last)",
    (r) => `${r.scale.errors}${r.scale.errors ? ` (${r.scale.lastError})` : ""}`,
  );
  line("TRYAGAIN / MOVED seen", (r) => `${r.scale.tryagain} / ${r.scale.moved}`);
  line("scale-out p50 / p99 / max (ms)", (r) => `${r.scale.p50} / ${r.scale.p99} / ${r.scale.max}`);
  line("acknowledged writes lost", (r) => String(r.scale.lost));
  line("success seen -> all nodes pushed, median / p90 / max (ms)", (r) => {
    const sorted = [...r.pushed].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    return sorted.length
      ? `${at(0.5)} / ${at(0.9)} / ${sorted[sorted.length - 1]} (${sorted.length})`
      : "-";
  });
  line("load average at the end (1/5/15 min)", (r) => r.load);
}

export async function benchClient(): Promise<void> {
  await benchScaleOut();
}
