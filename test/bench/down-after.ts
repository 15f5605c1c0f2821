// Failover speed and false alarms (issue 16), against a real `cron/probe.ts --for` process with
// default settings: kill -9 of a master → its replica promoted, and 800 ms stalls of a master
// → failovers (goal 0). Real Kvrocks when KVROCKS_BIN is set, the simulator otherwise.
import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { masterOf } from "../../lib/model/index.js";
import { createCluster, listHistory } from "../../lib/ops/index.js";
import { kvrocksBin, nodeView, startTestNodes, type TestNode } from "../support/nodes.js";
import { type BenchEnv, benchEnv, header, row, stats } from "./setup.js";

function probeProcess(b: BenchEnv): ChildProcess {
  return spawn(
    process.execPath,
    ["--import", "tsx", "cron/probe.ts", "--for", "600s", "--every", "1s"],
    {
      env: {
        ...process.env,
        KVC_ETCD_ENDPOINTS: b.etcd.endpoints.join(","),
        KVC_LOG_LEVEL: "silent",
      },
      stdio: "ignore",
    },
  );
}

async function cluster(b: BenchEnv, name: string): Promise<TestNode[]> {
  const nodes = await startTestNodes(4);
  if (!(await b.runtime.store.namespaceExists("bench")))
    await b.runtime.store.createNamespace("bench");
  await createCluster(b.runtime.ops, "bench", {
    name,
    nodes: nodes.map((n) => n.addr),
    replicas: 2,
    password: "",
  });
  return nodes;
}

async function isMaster(node: TestNode): Promise<boolean> {
  try {
    return (await nodeView(node)).role === "master";
  } catch {
    return false;
  }
}

async function killToPromoted(b: BenchEnv, repeats: number): Promise<number[]> {
  const samples: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const name = `kill${r}`;
    const nodes = await cluster(b, name);
    try {
      const stored = (await b.runtime.store.getCluster("bench", name)).cluster;
      const master = nodes.find((n) => n.addr === masterOf(stored.shards[0]!)!.addr)!;
      const replica = nodes.find((n) => n.addr === stored.shards[0]!.nodes[1]!.addr)!;
      await master.call("SET", `{${r}}k`, "v").catch(() => undefined);
      // The probe takes the cluster over and settles; the kill lands at a random phase.
      await sleep(3000 + Math.random() * 1000);
      const killedAt = Date.now();
      await master.kill();
      while (!(await isMaster(replica))) {
        if (Date.now() - killedAt > 20_000) throw new Error("no promotion within 20 s");
        await sleep(10);
      }
      samples.push(Date.now() - killedAt);
    } finally {
      await b.runtime.store.deleteCluster("bench", name);
      for (const n of nodes) await n.close();
    }
  }
  return samples;
}

async function stallFailovers(b: BenchEnv, stalls: number, stallMs: number): Promise<number> {
  const nodes = await cluster(b, "stall");
  try {
    const stored = (await b.runtime.store.getCluster("bench", "stall")).cluster;
    const master = nodes.find((n) => n.addr === masterOf(stored.shards[0]!)!.addr)!;
    await sleep(3000);
    for (let s = 0; s < stalls; s++) {
      await master.pause();
      await sleep(stallMs);
      await master.resume();
      await sleep(500 + Math.random() * 1000);
    }
    // Anything the last stall set off has had time to finish.
    await sleep(3000);
    return (await listHistory(b.runtime.store, "bench", "stall")).length;
  } finally {
    for (const n of nodes) await n.close();
  }
}

export async function benchDownAfter() {
  const b = await benchEnv();
  const child = probeProcess(b);
  let kills: number[];
  let failovers: number;
  try {
    kills = await killToPromoted(b, Number(process.env.BENCH_REPEATS ?? 5));
    failovers = await stallFailovers(b, 20, 800);
  } finally {
    child.kill("SIGTERM");
    await b.close();
  }
  const k = stats(kills);
  const nodes = kvrocksBin() ? "real Kvrocks" : "simulator";
  header(`down-after (${nodes}, default settings: 1 s interval, down-after 1000 ms, 3 probes)`);
  row(
    `kill -9 of a master → replica promoted, median / p99 (${kills.length} kills)`,
    `${k.median} / ${k.p99} ms`,
    "median ≤ 1500 ms",
    k.median <= 1500,
  );
  row("failovers caused by 20 stalls of 800 ms", `${failovers}`, "0", failovers === 0);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchDownAfter().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
