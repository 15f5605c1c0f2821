// The stats route and /metrics against real Kvrocks 2.10.1 (KVROCKS_BIN): one shard, a master
// and two replicas, 500 writes. Skipped, saying so, where no binary is given.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/etcd.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";

const BIN = process.env.KVROCKS_BIN;
const missing = !BIN || !existsSync(BIN);
if (missing) {
  console.warn("KVROCKS_BIN not set or missing: real-Kvrocks stats tests skipped");
}

interface RealNode {
  addr: string;
  port: number;
  proc: ChildProcess;
}

let dir: string;
let h: Harness;
const nodes: RealNode[] = [];
const base = "/api/v1/namespaces/real/clusters/stats";

async function startKvrocks(): Promise<RealNode> {
  const port = await freePort();
  const data = join(dir, `kv-${port}`);
  mkdirSync(data);
  const conf = join(dir, `kv-${port}.conf`);
  writeFileSync(
    conf,
    `bind 127.0.0.1\nport ${port}\ndir ${data}\ncluster-enabled yes\ndaemonize no\nlog-dir stdout\nworkers 2\n`,
  );
  const proc = spawn(BIN as string, ["-c", conf], { stdio: "ignore" });
  const node = { addr: `127.0.0.1:${port}`, port, proc };
  await eventually(async () => {
    const r = new Redis({ port, lazyConnect: true, protocol: 2, retryStrategy: () => null });
    r.on("error", () => {});
    try {
      await r.connect();
      return (await r.ping()) === "PONG";
    } catch {
      return false;
    } finally {
      r.disconnect();
    }
  }, 10_000);
  return node;
}

// biome-ignore lint/suspicious/noExplicitAny: answers are read as JSON
type Stats = any;
const stats = async (): Promise<Stats[]> => {
  const res = await h.request("GET", `${base}/stats`);
  expect(res.status).toBe(200);
  return res.body.data.nodes;
};

describe.skipIf(missing)("stats of real Kvrocks nodes", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kvc-real-stats-"));
    h = await startHarness({ label: "real-stats" });
    for (let i = 0; i < 3; i++) nodes.push(await startKvrocks());
    const ns = await h.request("POST", "/api/v1/namespaces", { namespace: "real" });
    expect(ns.status).toBe(201);
    const created = await h.request("POST", "/api/v1/namespaces/real/clusters", {
      name: "stats",
      nodes: nodes.map((n) => n.addr),
      replicas: 3,
    });
    expect(created.status, created.text).toBe(201);
  }, 60_000);

  afterAll(async () => {
    for (const n of nodes) if (n.proc.exitCode === null) n.proc.kill("SIGKILL");
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("shows about 500 keys on the master after 500 writes, and the replicas catch up", async () => {
    const master = new Redis({ port: nodes[0]!.port, protocol: 2 });
    try {
      for (let i = 0; i < 500; i++) await master.set(`real:${i}`, "v");
    } finally {
      master.disconnect();
    }
    let last: Stats[] = [];
    await eventually(async () => {
      last = await stats();
      return last.every((n) => n.up && n.replication_lag === 0);
    }, 15_000);
    const [m, r1, r2] = last;
    expect(m).toMatchObject({ addr: nodes[0]!.addr, role: "master", version: "2.10.1" });
    expect(m.keys).toBeGreaterThanOrEqual(450);
    expect(m.keys).toBeLessThanOrEqual(550);
    for (const r of [r1, r2]) {
      expect(r.role).toBe("slave");
      // Caught up (what the wait above asked for): no lag, and about the master's keys.
      expect(r.replication_lag).toBe(0);
      expect(r.keys).toBeGreaterThanOrEqual(450);
      expect(r.keys).toBeLessThanOrEqual(550);
    }
    for (const n of last) {
      expect(n.used_memory_bytes).toBeGreaterThan(1_000_000);
      expect(n.used_disk_bytes).toBeGreaterThan(0);
      expect(n.connected_clients).toBeGreaterThanOrEqual(1);
    }
    const scrape = await (await h.app.request("/metrics")).text();
    expect(scrape).toMatch(
      new RegExp(
        `^kvc_node_keys\\{[^}]*addr="${nodes[0]!.addr}"[^}]*\\} (4[5-9]\\d|5[0-4]\\d|550)$`,
        "m",
      ),
    );
  });

  it("shows a killed replica down with its error, the master's lag from the other", async () => {
    const dead = nodes[2]!;
    dead.proc.kill("SIGKILL");
    await new Promise((r) => dead.proc.once("exit", r));
    const now = await stats();
    const gone = now.find((n) => n.addr === dead.addr);
    expect(gone).toMatchObject({ up: false, keys: null, replication_lag: null });
    expect(gone.error).toMatch(/ECONNREFUSED|closed|unreachable/i);
    expect(now.find((n) => n.role === "master").replication_lag).toBeGreaterThanOrEqual(0);
  });
});
