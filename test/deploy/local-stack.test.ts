// `npm run local` end to end, on non-default ports and a temp state dir: it comes up, the
// cluster exists and every node got its topology, the printed next commands work (kill a
// master -> the probe fails it over; migrate; scale out), a second start sees the running
// stack, and Ctrl-C (SIGINT) leaves none of the processes it started behind. It prints the
// console's address and runs a steady client load, so the migrate and scale-out carry keys.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterView } from "../../deploy/local/api.js";
import { callControl, type StackState } from "../../deploy/local/control.js";
import { LOAD_KEYS, type LoadCounters, loadKey } from "../../deploy/local/load.js";
import { isAlive, portInUse } from "../../deploy/local/procs.js";
import { READY_BANNER } from "../../deploy/local/stack.js";
import { keySlot } from "../../lib/slots/keyslot.js";
import { parseSlotRange } from "../../lib/slots/ranges.js";
import { freePort } from "../support/etcd.js";
import { exec } from "./helpers.js";
import { freePortRange, markedProcesses, StackProcess } from "./stack-process.js";

let dir: string;
let stack: StackProcess;
let env: NodeJS.ProcessEnv;
let api: string;
let nodePort: number;
const NODES = 8;

const sub = (...args: string[]) =>
  exec(process.execPath, ["--import", "tsx", "deploy/local/stack.ts", ...args], {
    env,
    timeoutMs: 60_000,
  });

const kvctl = (...args: string[]) =>
  exec(process.execPath, ["cli/kvctl.js", ...args, "-n", "demo", "-c", "c1", "-H", api], {
    env,
    timeoutMs: 60_000,
  });

async function cluster(): Promise<ClusterView> {
  const res = await fetch(`${api}/api/v1/namespaces/demo/clusters/c1`);
  return ((await res.json()) as { data: { cluster: ClusterView } }).data.cluster;
}

function state(): StackState {
  return JSON.parse(readFileSync(join(dir, "stack.json"), "utf8")) as StackState;
}

async function load(): Promise<LoadCounters> {
  const status = await callControl<{ load: LoadCounters | null }>(state(), "GET", "/status");
  if (!status.load) throw new Error("the stack runs no client load");
  return status.load;
}

/**
 * Of the keys the load had sent before `issued`, those in `slots`: read from `addr` (the
 * master that owns those slots now). Keys are written in turn, so while the load has not
 * wrapped around (issued < LOAD_KEYS) these were written only before the move.
 */
async function keysOn(
  addr: string,
  slots: (slot: number) => boolean,
  issued: number,
): Promise<{ expected: number; found: number }> {
  const redis = new Redis({
    host: "127.0.0.1",
    port: Number(addr.split(":")[1]),
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  });
  let expected = 0;
  let found = 0;
  try {
    await redis.connect();
    for (let i = 0; i < Math.min(issued, LOAD_KEYS); i++) {
      if (!slots(keySlot(loadKey(i)))) continue;
      expected++;
      if ((await redis.get(loadKey(i))) !== null) found++;
    }
  } finally {
    redis.disconnect();
  }
  return { expected, found };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kvc-local-"));
  const apiPort = await freePort();
  nodePort = await freePortRange(NODES);
  api = `http://127.0.0.1:${apiPort}`;
  env = {
    ...process.env,
    KVC_LOCAL_DIR: dir,
    KVC_PORT: String(apiPort),
    KVC_LOCAL_ETCD_PORT: String(await freePort()),
    KVC_LOCAL_ETCD_PEER_PORT: String(await freePort()),
    KVC_LOCAL_NODE_PORT: String(nodePort),
    KVC_API_TOKENS: "",
    KVC_ETCD_ENDPOINTS: "",
    KVC_ETCD_PREFIX: "",
    // Real nodes under `npm run test:kvrocks`, the simulator otherwise.
    KVROCKS_BIN: process.env.KVROCKS_BIN ?? "",
  };
  stack = await StackProcess.start(env);
}, 120_000);

afterAll(async () => {
  // Only if a test failed before the SIGINT: do not leave anything running.
  await stack?.interruptIfRunning();
  for (const pid of dir ? markedProcesses(dir) : []) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe("npm run local", () => {
  it("prints where everything is, the cluster table and three next commands", () => {
    expect(stack.output).toMatch(/SIMULATED Kvrocks nodes|real Kvrocks/);
    expect(stack.output).toContain(`${READY_BANNER}: ${api}`);
    expect(stack.output).toMatch(new RegExp(`console +${api}/ui`));
    expect(stack.output).toContain(`Open the console: ${api}/ui`);
    expect(stack.output).toMatch(/cluster +demo\/c1: 3 shards, 6 nodes, version 1, created/);
    expect(stack.output).toMatch(/showcluster|printed by deploy\/local/);
    expect(stack.output).toContain("npm run local -- kill-master 0");
    expect(stack.output).toContain(`migrate slot 0-99 --target 1 --wait -n demo -c c1 -H ${api}`);
    expect(stack.output).toContain(
      `scale out --nodes 127.0.0.1:${nodePort + 6},127.0.0.1:${nodePort + 7} --wait`,
    );
  });

  it("created demo/c1: 3 shards of master + replica, every node on version >= 1", async () => {
    const c = await cluster();
    expect(c.shards).toHaveLength(3);
    expect(c.shards.map((s) => s.nodes.map((n) => n.role))).toEqual([
      ["master", "slave"],
      ["master", "slave"],
      ["master", "slave"],
    ]);
    for (const addr of c.shards.flatMap((s) => s.nodes.map((n) => n.addr))) {
      const port = Number(addr.split(":")[1]);
      const redis = new Redis({
        host: "127.0.0.1",
        port,
        lazyConnect: true,
        maxRetriesPerRequest: 1,
      });
      try {
        await redis.connect();
        expect(Number(await redis.call("CLUSTERX", "VERSION")), addr).toBeGreaterThanOrEqual(1);
      } finally {
        redis.disconnect();
      }
    }
  });

  it("runs a steady client load: writes keep being acknowledged and the nodes report ops/s", async () => {
    const first = await load();
    await new Promise((r) => setTimeout(r, 2000));
    const later = await load();
    expect(later.writes, JSON.stringify(later)).toBeGreaterThan(first.writes);
    expect(later.reads).toBeGreaterThan(first.reads);
    // What the console's charts plot: the stats route's ops/s of the masters.
    const res = await fetch(`${api}/api/v1/namespaces/demo/clusters/c1/stats`);
    const { nodes } = (
      (await res.json()) as {
        data: { nodes: { role: string; ops_per_sec: number | null }[] };
      }
    ).data;
    const ops = nodes.filter((n) => n.role === "master").map((n) => n.ops_per_sec ?? 0);
    expect(Math.max(...ops), JSON.stringify(nodes)).toBeGreaterThan(0);
    const status = await sub("status");
    expect(status.stdout).toMatch(/client load: \d+ writes and \d+ reads acknowledged/);
    expect(status.stdout).toContain(`console: ${api}/ui`);
  });

  it("a second start finds the running stack and leaves it alone", async () => {
    const again = await sub();
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already running here \(pid \d+/);
  });

  it("kill-master: the probe fails the master over and the cluster view shows it", async () => {
    const before = await cluster();
    const oldMaster = before.shards[0]!.nodes.find((n) => n.role === "master")!;
    const out = await sub("kill-master", "0");
    expect(out.code, out.stdout + out.stderr).toBe(0);
    expect(out.stdout).toMatch(new RegExp(`Killed ${oldMaster.addr}`));
    expect(out.stdout).toMatch(/Shard 0 failed over to 127\.0\.0\.1:\d+/);
    const after = await cluster();
    expect(after.shards[0]!.nodes.find((n) => n.role === "master")!.id).not.toBe(oldMaster.id);
    expect(after.version).toBe(before.version + 1);
    const revived = await sub("revive");
    expect(revived.stdout).toContain(`Started ${oldMaster.addr} again`);
  });

  it("the printed migrate and scale-out commands complete, carrying the load's keys", async () => {
    const beforeMigrate = await load();
    const migrate = await kvctl("migrate", "slot", "0-99", "--target", "1", "--wait");
    expect(migrate.code, migrate.stdout + migrate.stderr).toBe(0);
    const moved = await cluster();
    expect(moved.shards[1]!.slot_ranges).toContain("0-99");
    if (beforeMigrate.issued < LOAD_KEYS) {
      // The keys the load wrote into slots 0-99 before the move are on shard 1's master now.
      const master1 = moved.shards[1]!.nodes.find((n) => n.role === "master")!.addr;
      const carried = await keysOn(master1, (slot) => slot <= 99, beforeMigrate.issued);
      expect(carried.found, JSON.stringify({ carried, beforeMigrate })).toBeGreaterThan(0);
      expect(carried.found).toBeGreaterThanOrEqual(carried.expected - beforeMigrate.errors);
    }
    const beforeScale = await load();
    const spare = [nodePort + 6, nodePort + 7].map((p) => `127.0.0.1:${p}`).join(",");
    const scale = await kvctl("scale", "out", "--nodes", spare, "--wait");
    expect(scale.code, scale.stdout + scale.stderr).toBe(0);
    const c = await cluster();
    expect(c.shards).toHaveLength(4);
    expect(c.shards[3]!.slot_ranges.length).toBeGreaterThan(0);
    if (beforeScale.issued < LOAD_KEYS) {
      // The new shard holds keys the load wrote into its slots before the scale-out.
      const ranges = c.shards[3]!.slot_ranges.map((r) => parseSlotRange(r));
      const owned = (slot: number) => ranges.some((r) => slot >= r.start && slot <= r.stop);
      const master3 = c.shards[3]!.nodes.find((n) => n.role === "master")!.addr;
      const carried = await keysOn(master3, owned, beforeScale.issued);
      expect(carried.found, JSON.stringify({ carried, beforeScale })).toBeGreaterThan(0);
      expect(carried.found).toBeGreaterThanOrEqual(carried.expected - beforeScale.errors);
    }
  }, 90_000);

  it("Ctrl-C stops every process it started", async () => {
    const recorded = state();
    const pids = recorded.processes.map((p) => p.pid);
    expect(recorded.processes.map((p) => p.name)).toEqual(
      expect.arrayContaining(["controller", "etcd", "probe"]),
    );
    expect(pids.every(isAlive)).toBe(true);
    // Every process the stack recorded is one it marked (more may be marked: a kvctl or
    // subcommand it ran may still be exiting; after Ctrl-C none may be left).
    expect(markedProcesses(dir)).toEqual(expect.arrayContaining(pids));
    process.kill(stack.child.pid!, "SIGINT");
    const { code } = await stack.exited;
    expect(code).toBe(0);
    expect(stack.output).toMatch(/Local stack stopped/);
    for (const pid of pids) expect(isAlive(pid), `pid ${pid}`).toBe(false);
    expect(markedProcesses(dir)).toEqual([]);
    expect(existsSync(join(dir, "stack.json"))).toBe(false);
    for (const port of [Number(env.KVC_PORT), Number(env.KVC_LOCAL_ETCD_PORT), nodePort]) {
      expect(await portInUse(port), `port ${port}`).toBe(false);
    }
  }, 30_000);
});
