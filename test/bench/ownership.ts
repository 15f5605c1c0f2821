// Probe ownership (issue 15): what a healthy round costs etcd (raft proposals, from etcd's own
// /metrics) at 10, 100 and 1,000 clusters; one round at 1,000 clusters x 3 nodes; hand-over
// between invocations while a master dies; three invocations sharing 60 clusters.
import { spawn } from "node:child_process";
import { loadavg } from "node:os";
import { NodePool } from "../../lib/kvrocks/index.js";
import { masterOf } from "../../lib/model/index.js";
import { createCluster } from "../../lib/ops/index.js";
import {
  type ProbeInvocation,
  type ProbeRunDeps,
  probeAllClusters,
  runSettingsFrom,
  startInvocation,
} from "../../lib/probe/index.js";
import { kvRequests, proposalsCommitted } from "../support/etcd-metrics.js";
import { simProcess } from "./probe.js";
import { type BenchEnv, benchEnv, header, row, simCluster, stats } from "./setup.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function depsOf(b: BenchEnv, nodePool: NodePool): ProbeRunDeps {
  return { ...b.runtime.ops, etcd: b.runtime.etcd, nodePool };
}

/** Proposals per healthy round and round time of one invocation over `clusters` x 3 nodes. */
export async function healthyRounds(clusters: number, rounds: number) {
  const b = await benchEnv({ KVC_PROBE_CONCURRENCY: "16" });
  const nodePool = new NodePool();
  const deps = depsOf(b, nodePool);
  const settings = runSettingsFrom(b.runtime.config);
  const sims = await simProcess(clusters * 3);
  let invocation: ProbeInvocation | undefined;
  try {
    await b.runtime.store.createNamespace("big");
    for (let i = 0; i < clusters; i++) {
      await createCluster(b.runtime.ops, "big", {
        name: `c${i}`,
        nodes: sims.addrs.slice(i * 3, i * 3 + 3),
        replicas: 3,
        password: "",
      });
    }
    invocation = await startInvocation(deps, settings, true);
    await probeAllClusters(deps, settings, undefined, invocation); // takes them, first sight
    await probeAllClusters(deps, settings, undefined, invocation);
    const url = b.etcd.members[0]!.clientUrl;
    const before = await proposalsCommitted(url);
    const requestsBefore = await kvRequests(url);
    const times: number[] = [];
    // Rounds that saw a node fail (a loaded machine misses the node timeout) write its
    // counters: counted apart, so the figure shows what a truly healthy round costs.
    let failedNodes = 0;
    let stateWrites = 0;
    for (let r = 0; r < rounds; r++) {
      const started = Date.now();
      const summary = await probeAllClusters(deps, settings, undefined, invocation);
      times.push(Date.now() - started);
      if (summary.probed !== clusters) throw new Error(`probed ${summary.probed} of ${clusters}`);
      for (const report of summary.reports) {
        failedNodes += report.failed;
        if (report.stateWritten) stateWrites++;
      }
    }
    const proposals = (await proposalsCommitted(url)) - before;
    const requests = (await kvRequests(url)) - requestsBefore;
    return {
      load: loadavg()[0]!.toFixed(1),
      perRound: proposals / rounds,
      requestsPerRound: requests / rounds,
      round: stats(times),
      failedNodes,
      stateWrites,
    };
  } finally {
    await invocation?.end();
    nodePool.close();
    sims.stop();
    await b.close();
  }
}

/** A probe loop of one invocation, a round every `everyMs`, until `stop()`. */
function loop(deps: ProbeRunDeps, settings: ReturnType<typeof runSettingsFrom>, everyMs: number) {
  let done = false;
  let invocation: ProbeInvocation | undefined;
  const probed: { at: number; clusters: string[] }[] = [];
  const running = (async () => {
    invocation = await startInvocation(deps, settings, true);
    while (!done) {
      const started = Date.now();
      const summary = await probeAllClusters(deps, settings, undefined, invocation);
      probed.push({ at: started, clusters: summary.reports.map((r) => r.cluster) });
      await sleep(Math.max(0, everyMs - (Date.now() - started)));
    }
  })();
  return {
    probed,
    lease: () => invocation?.lease,
    /** Ends cleanly: the lease is revoked. */
    async stop() {
      done = true;
      await running;
      await invocation?.end();
    },
  };
}

/** Kill → promoted when the owner ends cleanly 300 ms after the kill, the next already running. */
async function handOver(repeats: number) {
  const b = await benchEnv({ KVC_PROBE_INTERVAL_MS: "1000", KVC_PROBE_FAILURES: "3" });
  const settings = runSettingsFrom(b.runtime.config);
  const nodePool = new NodePool();
  const deps = depsOf(b, nodePool);
  const samples: number[] = [];
  try {
    for (let r = 0; r < repeats; r++) {
      const nodes = await simCluster(b, "hand", `h${r}`, 4, 2);
      const cluster = (await b.runtime.store.getCluster("hand", `h${r}`)).cluster;
      const owner = loop(deps, settings, 1000);
      await sleep(2500);
      const next = loop(deps, settings, 1000);
      await sleep(1000 + Math.random() * 1000);
      const master = nodes.find((n) => n.addr === masterOf(cluster.shards[0]!)!.addr)!;
      const killedAt = Date.now();
      await master.stop();
      await sleep(300);
      await owner.stop();
      const target = cluster.version + 1;
      while ((await b.runtime.store.getCluster("hand", `h${r}`)).cluster.version < target) {
        if (Date.now() - killedAt > 20_000) throw new Error("no failover within 20 s");
        await sleep(20);
      }
      samples.push(Date.now() - killedAt);
      await next.stop();
      await b.runtime.store.deleteCluster("hand", `h${r}`);
    }
  } finally {
    nodePool.close();
    await b.close();
  }
  return stats(samples);
}

/** Kill → promoted when the owning process is SIGKILLed as the master dies. */
async function ownerKilled(repeats: number) {
  const ttl = 5;
  const env = { KVC_PROBE_INTERVAL_MS: "1000", KVC_PROBE_FAILURES: "3" };
  const b = await benchEnv({ ...env, KVC_PROBE_LOCK_TTL_SECONDS: String(ttl) });
  const settings = runSettingsFrom(b.runtime.config);
  const nodePool = new NodePool();
  const deps = depsOf(b, nodePool);
  const samples: number[] = [];
  const keys = b.runtime.store.keys;
  try {
    for (let r = 0; r < repeats; r++) {
      // Four clusters, so the killed process surely owns one once the two have shared them.
      const names = [0, 1, 2, 3].map((i) => `k${r}-${i}`);
      const nodes = new Map<string, Awaited<ReturnType<typeof simCluster>>>();
      for (const name of names) nodes.set(name, await simCluster(b, "kill", name, 4, 2));
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "cron/probe.ts", "--for", "120s", "--every", "1s"],
        {
          env: {
            ...process.env,
            ...env,
            KVC_PROBE_LOCK_TTL_SECONDS: String(ttl),
            KVC_ETCD_ENDPOINTS: b.etcd.endpoints.join(","),
            KVC_LOG_LEVEL: "silent",
          },
          stdio: "ignore",
        },
      );
      const owned = async () =>
        (await b.runtime.etcd.getAll().prefix(keys.probeLocksPrefix()).exec()).kvs;
      while ((await owned()).length < names.length) await sleep(50);
      const next = loop(deps, settings, 1000);
      await sleep(3000 + Math.random() * 1000);
      const nextLease = next.lease();
      const victim = (await owned())
        .map((kv) => ({ ref: keys.parseProbeLockKey(kv.key.toString())!, lease: kv.lease }))
        .find((o) => o.lease !== nextLease);
      if (!victim) throw new Error("the process owns no cluster");
      const cluster = (await b.runtime.store.getCluster("kill", victim.ref.cluster)).cluster;
      const master = nodes
        .get(victim.ref.cluster)!
        .find((n) => n.addr === masterOf(cluster.shards[0]!)!.addr)!;
      const killedAt = Date.now();
      child.kill("SIGKILL");
      await master.stop();
      const target = cluster.version + 1;
      while (
        (await b.runtime.store.getCluster("kill", victim.ref.cluster)).cluster.version < target
      ) {
        if (Date.now() - killedAt > 30_000) throw new Error("no failover within 30 s");
        await sleep(20);
      }
      samples.push(Date.now() - killedAt);
      await next.stop();
      for (const name of names) await b.runtime.store.deleteCluster("kill", name);
    }
  } finally {
    nodePool.close();
    await b.close();
  }
  return { ttl, ...stats(samples) };
}

/** Three invocations over 60 clusters: the most any owns, and intervals that missed a cluster. */
async function threeShare() {
  const b = await benchEnv({ KVC_PROBE_INTERVAL_MS: "1000", KVC_PROBE_CONCURRENCY: "32" });
  const settings = runSettingsFrom(b.runtime.config);
  const nodePool = new NodePool();
  const deps = depsOf(b, nodePool);
  const sims = await simProcess(60 * 2);
  try {
    await b.runtime.store.createNamespace("share");
    for (let i = 0; i < 60; i++) {
      await createCluster(b.runtime.ops, "share", {
        name: `c${i}`,
        nodes: sims.addrs.slice(i * 2, i * 2 + 2),
        replicas: 2,
        password: "",
      });
    }
    const loops = [0, 1, 2].map(() => loop(deps, settings, 1000));
    await sleep(4000); // every invocation registered and settled
    const from = Date.now();
    await sleep(10_000);
    const to = Date.now();
    await Promise.all(loops.map((l) => l.stop()));
    let most = 0;
    // The longest any cluster went unprobed, against the longest one invocation's rounds were
    // apart (a loaded machine stretches the interval; ownership must not add to it).
    const probesOf = new Map<string, number[]>();
    let roundGap = 0;
    for (const l of loops) {
      const rounds = l.probed.filter((p) => p.at >= from && p.at <= to);
      for (const [i, p] of rounds.entries()) {
        most = Math.max(most, p.clusters.length);
        if (i > 0) roundGap = Math.max(roundGap, p.at - rounds[i - 1]!.at);
        for (const c of p.clusters) probesOf.set(c, [...(probesOf.get(c) ?? []), p.at]);
      }
    }
    let clusterGap = 0;
    for (const times of probesOf.values()) {
      const sorted = [from, ...times.sort((x, y) => x - y), to];
      for (let i = 1; i < sorted.length; i++)
        clusterGap = Math.max(clusterGap, sorted[i]! - sorted[i - 1]!);
    }
    const missed = 60 - probesOf.size;
    return { most, missed, clusterGap, roundGap };
  } finally {
    nodePool.close();
    sims.stop();
    await b.close();
  }
}

export async function benchOwnership() {
  const sizes = (process.env.BENCH_OWNERSHIP_SIZES ?? "10,100,1000").split(",").map(Number);
  const healthy: [number, Awaited<ReturnType<typeof healthyRounds>>][] = [];
  for (const n of sizes) healthy.push([n, await healthyRounds(n, 10)]);
  const repeats = Number(process.env.BENCH_REPEATS ?? 5);
  const hand = await handOver(repeats);
  const killed = await ownerKilled(Math.min(3, repeats));
  const share = await threeShare();
  header("probe ownership");
  for (const [n, h] of healthy) {
    row(
      `etcd raft proposals per healthy round, ${n} clusters × 3 nodes`,
      `${h.perRound}${h.failedNodes > 0 ? ` (${h.failedNodes} node timeouts, ${h.stateWrites} state writes)` : ""}`,
      "≤ 2",
      h.perRound <= 2,
    );
  }
  for (const [n, h] of healthy) {
    // Reads, not writes: what the round costs etcd whatever the machine's load.
    row(
      `etcd KV requests per healthy round, ${n} clusters × 3 nodes`,
      `${h.requestsPerRound}`,
      "",
      null,
    );
  }
  for (const [n, h] of healthy) {
    row(
      `one round, ${n} clusters × 3 nodes, one invocation, median / p99 (load ${h.load})`,
      `${h.round.median} / ${h.round.p99} ms`,
      "≤ 1000 ms",
      h.round.p99 <= 1000,
    );
  }
  row(
    "master killed 300 ms before its owner ends, next running: kill → promoted, median / max",
    `${hand.median} / ${hand.max} ms`,
    "≤ 4500 ms",
    hand.max <= 4500,
  );
  row(
    `owner SIGKILLed as the master dies (TTL ${killed.ttl} s): kill → promoted, median / max`,
    `${killed.median} / ${killed.max} ms`,
    `≤ ${killed.ttl * 1000 + 4000} ms`,
    killed.max <= killed.ttl * 1000 + 4000,
  );
  row(
    "3 invocations over 60 clusters: most owned by one",
    `${share.most}`,
    "≤ 25",
    share.most <= 25,
  );
  row(
    "3 invocations over 60 clusters: clusters never probed in 10 s",
    `${share.missed}`,
    "0",
    share.missed === 0,
  );
  row(
    "3 invocations over 60 clusters: longest a cluster went unprobed / longest between rounds",
    `${share.clusterGap} / ${share.roundGap} ms`,
    "≤ 1000 ms / (same)",
    share.clusterGap <= Math.max(1000, share.roundGap) + 100,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchOwnership().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
