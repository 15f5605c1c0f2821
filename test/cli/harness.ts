// A real controller process (real etcd, own key prefix) and kvctl against it: in this process
// (cli/dispatch.ts, its stdout, stderr, environment and exit code captured) unless the call is
// about the process itself (stdin, the shell, the launcher), which runs `cli/kvctl.js` as a
// child. A process per call cost the suite most of its time. KVCTL_TEST_PROCESS=1 runs every
// call as a process. Sim nodes run in this process, so every child is spawned asynchronously:
// a blocking spawn would freeze the nodes the controller is talking to.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isMainThread } from "node:worker_threads";
import { commandIndex } from "../../cli/argv.js";
import { kvctl as kvctlInProcess } from "../../cli/dispatch.js";
import { sharedEtcdEndpoints, uniquePrefix } from "../support/env.js";
import { freePort } from "../support/etcd.js";
import { type SimNode, type SimNodeOptions, startSimNode } from "../support/kvrocks-sim/server.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const KVCTL = join(ROOT, "cli/kvctl.js");

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment without anything of the developer's kvctl/controller settings. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("KVCTL_") && !k.startsWith("KVC_")) env[k] = v;
  }
  return { ...env, ...extra };
}

export function runProcess(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { timeoutMs?: number; input?: string } = {},
): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
    child.on("error", fail);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      done({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** In-process runs take turns: each owns process.env and the standard streams while it runs. */
let turn: Promise<unknown> = Promise.resolve();

/** Whether a call can run in this process: a command (not the shell), no stdin, no launcher. */
function inProcessAllowed(args: string[], env: NodeJS.ProcessEnv, input?: string): boolean {
  if (process.env.KVCTL_TEST_PROCESS === "1") return false;
  // A worker thread's process.env is its own copy: HOME set there would not reach homedir().
  if (!isMainThread) return false;
  if (input !== undefined || env.KVCTL_NO_BUNDLE) return false;
  const asksForHelp = args.some((a) => ["-h", "--help", "-V", "--version"].includes(a));
  return commandIndex(args) !== -1 || asksForHelp;
}

/**
 * kvctl in this process with `env` as its whole environment (as a child would have it), its
 * stdout and stderr captured and not terminals (as a child's pipes are not).
 */
export function runInProcess(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const run = turn.then(() => inProcess(args, env));
  turn = run.catch(() => {});
  return run;
}

async function inProcess(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const savedEnv = { ...process.env };
  const streams = [process.stdout, process.stderr] as const;
  const captured = ["", ""];
  const saved = streams.map((s) => ({
    write: s.write,
    isTTY: Object.getOwnPropertyDescriptor(s, "isTTY"),
    columns: Object.getOwnPropertyDescriptor(s, "columns"),
  }));
  const setEnv = (to: NodeJS.ProcessEnv) => {
    for (const k of Object.keys(process.env)) if (!(k in to)) delete process.env[k];
    for (const [k, v] of Object.entries(to)) if (v !== undefined) process.env[k] = v;
  };
  setEnv(env);
  streams.forEach((s, i) => {
    s.write = ((chunk: unknown, ...rest: unknown[]) => {
      captured[i] +=
        typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString();
      const done = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      if (done) queueMicrotask(done);
      return true;
    }) as typeof s.write;
    Object.defineProperty(s, "isTTY", { value: false, configurable: true, writable: true });
    Object.defineProperty(s, "columns", { value: undefined, configurable: true, writable: true });
  });
  let code: number;
  try {
    code = await kvctlInProcess(args);
  } catch (err) {
    captured[1] += `kvctl threw: ${(err as Error)?.stack ?? err}\n`;
    code = 1;
  } finally {
    streams.forEach((s, i) => {
      s.write = saved[i]!.write;
      for (const key of ["isTTY", "columns"] as const) {
        const d = saved[i]![key];
        if (d) Object.defineProperty(s, key, d);
        else delete (s as unknown as Record<string, unknown>)[key];
      }
    });
    setEnv(savedEnv);
  }
  return { code, stdout: captured[0]!, stderr: captured[1]! };
}

export interface Controller {
  url: string;
  prefix: string;
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startController(
  options: { label?: string; env?: Record<string, string>; prefix?: string } = {},
): Promise<Controller> {
  const port = await freePort();
  const prefix = options.prefix ?? uniquePrefix(options.label ?? "cli");
  const env: Record<string, string> = {
    KVC_ETCD_ENDPOINTS: sharedEtcdEndpoints().join(","),
    KVC_ETCD_PREFIX: prefix,
    KVC_PORT: String(port),
    KVC_HOST: "127.0.0.1",
    KVC_NODE_TIMEOUT_MS: "1000",
    KVC_PROBE_TIMEOUT_MS: "500",
    KVC_PROBE_INTERVAL_MS: "100",
    ...options.env,
  };
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "functions/node.ts"], {
    cwd: ROOT,
    env: cleanEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout?.on("data", (d) => (log = (log + d).slice(-4000)));
  child.stderr?.on("data", (d) => (log = (log + d).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(500) });
      if (res.ok) break;
    } catch {}
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`controller did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    prefix,
    env,
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** kvctl with a HOME of its own (no ~/.kvctl.yaml, no ~/.kc_cli_config) unless told otherwise. */
export class Kvctl {
  readonly home = mkdtempSync(join(tmpdir(), "kvctl-home-"));
  constructor(private readonly env: Record<string, string> = {}) {}

  /** `input`: what kvctl reads on stdin (a pipe; empty unless given). */
  run(args: string[], env: Record<string, string> = {}, input?: string): Promise<Run> {
    const environment = cleanEnv({ HOME: this.home, ...this.env, ...env });
    if (inProcessAllowed(args, environment, input)) return runInProcess(args, environment);
    return runProcess([KVCTL, ...args], environment, { input });
  }

  /** The environment kvctl runs with (for tests that start it themselves, under a pty). */
  environment(env: Record<string, string> = {}): NodeJS.ProcessEnv {
    return cleanEnv({ HOME: this.home, ...this.env, ...env });
  }

  /** Runs with `-o json`, expects exit 0, answers the parsed stdout. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary answer shapes
  async json(args: string[], env: Record<string, string> = {}): Promise<any> {
    const r = await this.run([...args, "-o", "json"], env);
    if (r.code !== 0) throw new Error(`kvctl ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  /** Expects exit 0; answers stdout. */
  async ok(args: string[], env: Record<string, string> = {}): Promise<string> {
    const r = await this.run(args, env);
    if (r.code !== 0) {
      throw new Error(`kvctl ${args.join(" ")}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    }
    return r.stdout;
  }

  cleanup(): void {
    rmSync(this.home, { recursive: true, force: true });
  }
}

/** One probe round (or rounds for a while) against the controller's etcd prefix. */
export function probe(controller: Controller, args: string[] = ["--once"]): Promise<Run> {
  return runProcess(["--import", "tsx", "cron/probe.ts", ...args], cleanEnv(controller.env), {
    timeoutMs: 60_000,
  });
}

export async function simNodes(n: number, opts: SimNodeOptions = {}): Promise<SimNode[]> {
  const nodes: SimNode[] = [];
  for (let i = 0; i < n; i++) nodes.push(await startSimNode(opts));
  return nodes;
}

export const addrs = (nodes: readonly SimNode[]) => nodes.map((n) => n.addr).join(",");

/** Probe rounds in the background until stopped (SIGTERM ends the current round cleanly). */
export function probeLoop(controller: Controller, everyMs = 150): { stop(): Promise<void> } {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "cron/probe.ts", "--for", "120s", "--every", `${everyMs}ms`],
    { cwd: ROOT, env: cleanEnv(controller.env), stdio: "ignore" },
  );
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** GET on the controller's API, straight (for tests to wait on state, not to test kvctl). */
// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary answer shapes
export async function apiGet(controller: Controller, path: string, token?: string): Promise<any> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const res = await fetch(`${controller.url}/api/v1${path}`, { headers });
  return ((await res.json()) as { data: unknown }).data;
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
