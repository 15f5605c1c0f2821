// `npm run local` end to end, on non-default ports and a temp state dir: it comes up, the
// cluster exists and every node got its topology, the printed next commands work (kill a
// master -> the probe fails it over; migrate; scale out), a second start sees the running
// stack, and Ctrl-C (SIGINT) leaves none of the processes it started behind.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterView } from "../../deploy/local/api.js";
import type { StackState } from "../../deploy/local/control.js";
import { isAlive, portInUse } from "../../deploy/local/procs.js";
import { READY_BANNER } from "../../deploy/local/stack.js";
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

  it("the printed migrate and scale-out commands complete", async () => {
    const migrate = await kvctl("migrate", "slot", "0-99", "--target", "1", "--wait");
    expect(migrate.code, migrate.stdout + migrate.stderr).toBe(0);
    expect((await cluster()).shards[1]!.slot_ranges).toContain("0-99");
    const spare = [nodePort + 6, nodePort + 7].map((p) => `127.0.0.1:${p}`).join(",");
    const scale = await kvctl("scale", "out", "--nodes", spare, "--wait");
    expect(scale.code, scale.stdout + scale.stderr).toBe(0);
    const c = await cluster();
    expect(c.shards).toHaveLength(4);
    expect(c.shards[3]!.slot_ranges.length).toBeGreaterThan(0);
  }, 60_000);

  it("Ctrl-C stops every process it started", async () => {
    const state = JSON.parse(readFileSync(join(dir, "stack.json"), "utf8")) as StackState;
    const pids = state.processes.map((p) => p.pid);
    expect(state.processes.map((p) => p.name)).toEqual(
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
