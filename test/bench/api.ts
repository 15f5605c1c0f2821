// API benchmarks (issue 8): GET cluster latency and throughput over real etcd against a raw
// etcd get, create-cluster latency, cold start, and the idle server's memory.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { loadConfig } from "../../lib/config/index.js";
import { openRuntime } from "../../lib/runtime.js";
import { httpApiEvent } from "../deploy/helpers.js";
import { EtcdCluster, freePort } from "../support/etcd.js";
import { startSimNode } from "../support/kvrocks-sim/server.js";
import { header, row, stats } from "./setup.js";

interface Server {
  child: ChildProcess;
  url: string;
  startedInMs: number;
  /** CPU the process had used (user + system) when the first 200 came back. */
  startedCpuMs: number;
}

const CLUSTER_PATH = "/api/v1/namespaces/bench/clusters/c0";

/** User + system CPU of a running process, from /proc (Linux, as this machine). */
function cpuMsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

/** The bundled or built server when `npm run bundle` / `npm run build` has run, else tsx. */
function serverCommand(): { args: string[]; kind: string } {
  if (existsSync("bundle/server/index.mjs"))
    return { args: ["bundle/server/index.mjs"], kind: "bundle (node)" };
  if (existsSync("dist/functions/node.js"))
    return { args: ["dist/functions/node.js"], kind: "dist (node)" };
  return { args: ["--import", "tsx", "functions/node.ts"], kind: "tsx (no build)" };
}

/** Spawns the server and polls `readyPath` every 2 ms until it answers 200. */
async function startServer(etcd: EtcdCluster, readyPath = "/healthz"): Promise<Server> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = spawn(process.execPath, serverCommand().args, {
    env: { ...process.env, KVC_ETCD_ENDPOINTS: etcd.endpoints.join(","), KVC_PORT: String(port) },
    stdio: "ignore",
  });
  for (;;) {
    const ok = await fetch(`${url}${readyPath}`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (child.exitCode !== null) throw new Error("server exited");
    await new Promise((r) => setTimeout(r, 2));
  }
  const startedInMs = performance.now() - started;
  return { child, url, startedInMs, startedCpuMs: cpuMsOf(child.pid!) };
}

// A Lambda cold start as the runtime has it: a fresh process imports the handler, then the
// first event comes in. Measured from spawn to the handler's 200.
const LAMBDA_INVOKE = `
const [dir, event] = process.argv.slice(1);
const { handler } = await import(dir + "/index.mjs");
const res = await handler(JSON.parse(event), {});
// The API answers a status; a probe round its summary (200: no errors).
const status = res.statusCode ?? (res.errors.length === 0 ? 200 : 500);
process.stdout.write(String(status) + " " + process.cpuUsage().user / 1000 + " " + process.cpuUsage().system / 1000 + "\\n");
process.exit(0);
`;

async function lambdaColdStart(
  etcd: EtcdCluster,
  name: "api" | "probe",
  event: unknown,
): Promise<{ ms: number; cpuMs: number }> {
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      LAMBDA_INVOKE,
      `${process.cwd()}/bundle/${name}`,
      JSON.stringify(event),
    ],
    {
      env: {
        PATH: process.env.PATH,
        KVC_ETCD_ENDPOINTS: etcd.endpoints.join(","),
        KVC_LOG_LEVEL: "silent",
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let out = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const ms = await new Promise<number>((resolve) =>
    child.stdout!.on("data", () => {
      if (out.includes("\n")) resolve(performance.now() - started);
    }),
  );
  await new Promise((r) => child.once("exit", r));
  const [status, user, system] = out.trim().split(" ").map(Number);
  if (status !== 200) throw new Error(`${name} lambda cold start answered ${out}`);
  return { ms, cpuMs: user! + system! };
}

async function stopServer(server: Server) {
  const exited = new Promise((r) => server.child.once("exit", r));
  server.child.kill("SIGTERM");
  await exited;
}

function rssOf(pid: number): number {
  // /proc is Linux-only, as is this machine; the bench prints NaN elsewhere.
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return kb / 1024;
  } catch {
    return Number.NaN;
  }
}

export async function benchApi() {
  // This machine is shared: the load average says how far the times below are its own.
  const loadAtStart = loadavg()[0]!;
  const etcd = await EtcdCluster.start(1);
  const runtime = openRuntime(
    loadConfig(undefined, {
      KVC_ETCD_ENDPOINTS: etcd.endpoints.join(","),
      KVC_LOG_LEVEL: "silent",
    }),
  );
  const nodes = await Promise.all(Array.from({ length: 6 }, () => startSimNode()));
  const cold: number[] = [];
  const coldCpu: number[] = [];
  const lambda: number[] = [];
  const lambdaCpu: number[] = [];
  const probe: number[] = [];
  const probeCpu: number[] = [];
  try {
    const server = await startServer(etcd);
    const idleRss = rssOf(server.child.pid!);
    const post = (path: string, body: unknown) =>
      fetch(`${server.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    await post("/api/v1/namespaces", { namespace: "bench" });

    const createTimes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const addrs = nodes.slice(i * 2, i * 2 + 2).map((n) => n.addr);
      const t = performance.now();
      const res = await post("/api/v1/namespaces/bench/clusters", {
        name: `c${i}`,
        nodes: addrs,
        replicas: 1,
      });
      createTimes.push(performance.now() - t);
      if (res.status !== 201) throw new Error(`create: ${res.status} ${await res.text()}`);
    }

    const path = `${server.url}${CLUSTER_PATH}`;
    for (let i = 0; i < 200; i++) await (await fetch(path)).arrayBuffer();
    const latencies: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t = performance.now();
      const res = await fetch(path);
      await res.arrayBuffer();
      latencies.push(performance.now() - t);
    }
    const key = runtime.store.keys.cluster("bench", "c0");
    const raw: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t = performance.now();
      await runtime.etcd.get(key).string();
      raw.push(performance.now() - t);
    }
    // 32 requests in flight, GET cluster and a raw etcd get of the same key in turns (three
    // rounds of each, so a change in the machine's load falls on both), each request timed.
    const inFlight = async (one: () => Promise<unknown>, count: number) => {
      const times: number[] = [];
      let left = count;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (left-- > 0) {
            const t = performance.now();
            await one();
            times.push(performance.now() - t);
          }
        }),
      );
      return { times, ms: performance.now() - started };
    };
    const getOne = async () => {
      const res = await fetch(path);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`GET cluster answered ${res.status}`);
    };
    const rawOne = () => runtime.etcd.get(key).string();
    const loaded = { get: [] as number[], raw: [] as number[], getMs: 0, rawMs: 0 };
    await inFlight(getOne, 500);
    await inFlight(rawOne, 500);
    for (let round = 0; round < 3; round++) {
      const g = await inFlight(getOne, 2000);
      const r = await inFlight(rawOne, 2000);
      loaded.get.push(...g.times);
      loaded.raw.push(...r.times);
      loaded.getMs += g.ms;
      loaded.rawMs += r.ms;
    }
    const done = loaded.get.length;
    const throughputMs = loaded.getMs;
    const busyRss = rssOf(server.child.pid!);
    await stopServer(server);

    // Cold starts to the first 200 of GET cluster (not /healthz): etcd reached, app answering.
    for (let i = 0; i < 7; i++) {
      const s = await startServer(etcd, CLUSTER_PATH);
      cold.push(s.startedInMs);
      coldCpu.push(s.startedCpuMs);
      await stopServer(s);
    }
    if (existsSync("bundle/api/index.mjs")) {
      for (let i = 0; i < 7; i++) {
        const r = await lambdaColdStart(etcd, "api", httpApiEvent("GET", CLUSTER_PATH));
        lambda.push(r.ms);
        lambdaCpu.push(r.cpuMs);
      }
    }
    if (existsSync("bundle/probe/index.mjs")) {
      for (let i = 0; i < 7; i++) {
        const r = await lambdaColdStart(etcd, "probe", {});
        probe.push(r.ms);
        probeCpu.push(r.cpuMs);
      }
    }

    const get = stats(latencies);
    const etcdGet = stats(raw);
    const c = stats(cold);
    header(`API (server: ${serverCommand().kind})`);
    row(
      "GET cluster latency, median / p99",
      `${get.median.toFixed(2)} / ${get.p99.toFixed(2)} ms`,
      "≤ 2 / ≤ 10 ms",
      get.median <= 2 && get.p99 <= 10,
    );
    row(
      "raw etcd get, median / p99 (same run)",
      `${etcdGet.median.toFixed(2)} / ${etcdGet.p99.toFixed(2)} ms`,
      "",
      null,
    );
    row(
      "GET cluster / raw etcd get, one at a time (medians)",
      `${(get.median / etcdGet.median).toFixed(1)}×`,
      "",
      null,
    );
    const lg = stats(loaded.get);
    const lr = stats(loaded.raw);
    const ratioMedian = lg.median / lr.median;
    const ratioP99 = lg.p99 / lr.p99;
    row(
      "GET cluster, 32 in flight: median / p99 (throughput)",
      `${lg.median.toFixed(2)} / ${lg.p99.toFixed(2)} ms (${Math.round((done / throughputMs) * 1000)} req/s)`,
      "",
      null,
    );
    row(
      "raw etcd get of the same key, 32 in flight, same run: median / p99 (throughput)",
      `${lr.median.toFixed(2)} / ${lr.p99.toFixed(2)} ms (${Math.round((loaded.raw.length / loaded.rawMs) * 1000)} req/s)`,
      "",
      null,
    );
    row(
      "GET cluster / raw etcd get, 32 in flight: median / p99",
      `${ratioMedian.toFixed(1)}× / ${ratioP99.toFixed(1)}×`,
      "≤ 1.5× / ≤ 1.5×",
      ratioMedian <= 1.5 && ratioP99 <= 1.5,
    );
    row(
      "create cluster (2 nodes, check + push), median / max",
      `${stats(createTimes).median.toFixed(1)} / ${stats(createTimes).max.toFixed(1)} ms`,
      "",
      null,
    );
    row(
      "cold start: spawn → first 200 of GET cluster, median / max (CPU used, median)",
      `${c.median.toFixed(0)} / ${c.max.toFixed(0)} ms (${stats(coldCpu).median.toFixed(0)} ms CPU)`,
      "≤ 150 ms",
      c.median <= 150,
    );
    if (lambda.length > 0) {
      const l = stats(lambda);
      row(
        "Lambda API bundle cold start: spawn → handler's 200 for GET cluster, median / max (CPU)",
        `${l.median.toFixed(0)} / ${l.max.toFixed(0)} ms (${stats(lambdaCpu).median.toFixed(0)} ms CPU)`,
        "≤ 150 ms",
        l.median <= 150,
      );
    }
    if (probe.length > 0) {
      const p = stats(probe);
      row(
        "Lambda probe bundle cold start: spawn → one round over 3 clusters done, median / max (CPU)",
        `${p.median.toFixed(0)} / ${p.max.toFixed(0)} ms (${stats(probeCpu).median.toFixed(0)} ms CPU)`,
        "≤ 150 ms",
        p.median <= 150,
      );
    }
    row(
      "load average (1 min) at start / end of this table",
      `${loadAtStart.toFixed(1)} / ${loadavg()[0]!.toFixed(1)}`,
      "",
      null,
    );
    row(
      "server RSS idle / after load",
      `${idleRss.toFixed(0)} / ${busyRss.toFixed(0)} MiB`,
      "",
      null,
    );
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
    runtime.close();
    await etcd.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchApi().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
