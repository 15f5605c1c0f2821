// `npm run local` with KVROCKS_BIN: the real-Kvrocks path (config files written, one process
// per node, killed and revived by pid, all stopped by Ctrl-C). No kvrocks binary here, so
// KVROCKS_BIN points at a stand-in that reads the kvrocks.conf it is given, insists on what
// the stack must write (cluster mode, port, dirs), and serves one simulated node on that port.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callControl, type StackState } from "../../deploy/local/control.js";
import { isAlive } from "../../deploy/local/procs.js";
import { freePort } from "../support/etcd.js";
import { ROOT } from "./helpers.js";
import { freePortRange, StackProcess } from "./stack-process.js";

const FAKE_KVROCKS = `
import { existsSync, readFileSync } from "node:fs";
const at = process.argv.indexOf("-c");
if (at === -1) { console.error("usage: kvrocks -c kvrocks.conf"); process.exit(1); }
const conf = Object.fromEntries(
  readFileSync(process.argv[at + 1], "utf8").split("\\n")
    .filter((l) => l.trim() && !l.startsWith("#"))
    .map((l) => { const [k, ...v] = l.trim().split(/\\s+/); return [k, v.join(" ")]; }),
);
for (const [key, want] of [["cluster-enabled", "yes"], ["daemonize", "no"], ["bind", "127.0.0.1"]]) {
  if (conf[key] !== want) { console.error(key + " must be " + want); process.exit(1); }
}
if (!existsSync(conf.dir) || !existsSync(conf["log-dir"])) { console.error("no dir"); process.exit(1); }
const { startSimNode } = await import(process.env.FAKE_KVROCKS_SIM);
const node = await startSimNode({ host: conf.bind, port: Number(conf.port) });
console.log("fake kvrocks on " + node.addr);
process.on("SIGTERM", () => node.close().then(() => process.exit(0)));
`;

let dir: string;
let tools: string;
let stack: StackProcess;
let nodePort: number;

const state = () => JSON.parse(readFileSync(join(dir, "stack.json"), "utf8")) as StackState;
const nodeProcesses = () => state().processes.filter((p) => p.name.startsWith("kvrocks "));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kvc-local-kv-"));
  tools = mkdtempSync(join(tmpdir(), "kvc-fake-kvrocks-"));
  await build({
    entryPoints: [join(ROOT, "test/support/kvrocks-sim/server.ts")],
    outfile: join(tools, "sim.mjs"),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "error",
  });
  writeFileSync(join(tools, "fake-kvrocks.mjs"), FAKE_KVROCKS);
  const bin = join(tools, "kvrocks");
  writeFileSync(
    bin,
    `#!/bin/sh\nexec "${process.execPath}" "${join(tools, "fake-kvrocks.mjs")}" "$@"\n`,
  );
  chmodSync(bin, 0o755);

  nodePort = await freePortRange(8);
  stack = await StackProcess.start({
    ...process.env,
    KVROCKS_BIN: bin,
    FAKE_KVROCKS_SIM: join(tools, "sim.mjs"),
    KVC_LOCAL_DIR: dir,
    KVC_PORT: String(await freePort()),
    KVC_LOCAL_ETCD_PORT: String(await freePort()),
    KVC_LOCAL_ETCD_PEER_PORT: String(await freePort()),
    KVC_LOCAL_NODE_PORT: String(nodePort),
    KVC_API_TOKENS: "",
    KVC_ETCD_PREFIX: "",
  });
}, 120_000);

afterAll(async () => {
  await stack?.interruptIfRunning();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (tools) rmSync(tools, { recursive: true, force: true });
}, 30_000);

describe("npm run local with KVROCKS_BIN", () => {
  it("runs one kvrocks process per node, each with the kvrocks.conf it wrote", async () => {
    expect(stack.output).toContain(`real Kvrocks (${join(tools, "kvrocks")})`);
    expect(stack.output).not.toMatch(/SIMULATED/);
    const procs = nodeProcesses();
    expect(procs).toHaveLength(8);
    for (const [i, p] of procs.entries()) {
      const port = nodePort + i;
      const conf = join(dir, "kvrocks", String(port), "kvrocks.conf");
      expect(p.cmd.slice(1)).toEqual(["-c", conf]);
      expect(isAlive(p.pid)).toBe(true);
      expect(readFileSync(conf, "utf8")).toContain(`port ${port}\ncluster-enabled yes\n`);
    }
    // The six cluster members got the topology.
    for (let i = 0; i < 6; i++) {
      const redis = new Redis({ port: nodePort + i, lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await redis.connect();
        expect(Number(await redis.call("CLUSTERX", "VERSION"))).toBeGreaterThanOrEqual(1);
      } finally {
        redis.disconnect();
      }
    }
  });

  it("kills a master by pid and revives it as a new process", async () => {
    const before = nodeProcesses()[0]!;
    const killed = await callControl<{ addr: string }>(state(), "POST", "/kill-master", {
      shard: 0,
    });
    expect(killed.addr).toBe(`127.0.0.1:${nodePort}`);
    expect(isAlive(before.pid)).toBe(false);
    const status = await callControl<{ down: string[] }>(state(), "GET", "/status");
    expect(status.down).toEqual([killed.addr]);
    await callControl(state(), "POST", "/revive", {});
    const after = nodeProcesses()[0]!;
    expect(after.pid).not.toBe(before.pid);
    expect(isAlive(after.pid)).toBe(true);
    expect(stack.output).not.toMatch(/exited \(/); // a kill we asked for is not reported as a crash
  });

  it("Ctrl-C stops every node process, the controller, the probe and etcd", async () => {
    const pids = state().processes.map((p) => p.pid);
    expect(pids).toHaveLength(11);
    process.kill(stack.child.pid!, "SIGINT");
    expect((await stack.exited).code).toBe(0);
    for (const pid of pids) expect(isAlive(pid), `pid ${pid}`).toBe(false);
    expect(existsSync(join(dir, "stack.json"))).toBe(false);
  }, 40_000);
});
