// `npm run local`: etcd, 8 Kvrocks nodes (real or simulated), the controller and the probe
// loop on loopback, namespace `demo` with cluster `c1` (3 shards, a master and a replica each),
// in one command. Ctrl-C stops everything it started.
//
//   npm run local                      start (foreground), with a small client load
//   npm run local -- --no-load         start without the client load
//   npm run local -- status            the running stack and its cluster
//   npm run local -- kill-master [N]   kill shard N's master (default 0); wait for the failover
//   npm run local -- revive            start the killed nodes again
//   npm run local -- stop              stop a stack running in another terminal
//
// Ports and places: see deploy/local/settings.ts and the README ("Quick start").
import { existsSync, mkdirSync } from "node:fs";
import type { Server } from "node:http";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Api, ApiError, type ClusterView, clusterTable, ensureDemoCluster } from "./api.js";
import {
  callControl,
  readState,
  removeState,
  runningStack,
  type StackState,
  startControlServer,
  writeState,
} from "./control.js";
import {
  defaultLookupContext,
  ensureEtcdCertificates,
  etcdArgs,
  etcdClientEnv,
  etcdHealthy,
  lookupEtcd,
} from "./etcd.js";
import { ClientLoad, LOAD_KEYS, LOAD_WRITES_PER_SECOND, type LoadCounters } from "./load.js";
import {
  findKvrocks,
  type LocalNode,
  type NodeSet,
  startRealNodes,
  startSimulatedNodes,
} from "./nodes.js";
import {
  killLeftover,
  type Managed,
  portInUse,
  run,
  sleep,
  startProcess,
  stopProcess,
  tail,
  which,
} from "./procs.js";
import {
  apiUrl,
  CLUSTER,
  clusterAddrs,
  etcdEndpoint,
  HOST,
  type LocalSettings,
  NAMESPACE,
  nodeAddrs,
  paths,
  portsToCheck,
  settingsFrom,
} from "./settings.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const READY_BANNER = "kvrocks-controller local stack ready";
/** How long the probe loop runs before it is started again (setTimeout caps at ~24.8 days). */
const PROBE_FOR = "1440m";

// `npm run local | tee local.log`: Ctrl-C kills tee too, and every later write to the pipe
// fails with EPIPE. Unhandled, each one became an uncaught exception whose report met the
// same closed pipe; busy with them, the stack either never finished its shutdown or was
// SIGKILLed by tsx's CLI (which kills a child that does not confirm a relayed signal within
// ~60 ms); both were seen, and both left etcd, the controller and the probe running. Output to a closed stream is dropped instead, and
// `npm run local` runs `node --import tsx` with no relaying parent in between.
const closedStreams = new Set<NodeJS.WriteStream>();
function dropWhenClosed(stream: NodeJS.WriteStream): void {
  stream.on("error", () => closedStreams.add(stream));
}
function writeTo(stream: NodeJS.WriteStream, text: string): void {
  if (closedStreams.has(stream) || stream.destroyed) return;
  try {
    stream.write(text);
  } catch {
    closedStreams.add(stream);
  }
}
const say = (line = "") => writeTo(process.stdout, `${line}\n`);
const warn = (line: string) => writeTo(process.stderr, `${line}\n`);
const rel = (p: string) => {
  const r = relative(process.cwd(), p);
  return r === "" ? "." : r.startsWith("..") ? p : r;
};

class StartupError extends Error {}
/** Start-up cut short by Ctrl-C: nothing to report. */
class Aborted extends Error {}

/** Fields of a JSON log line worth showing next to its message. */
const SHOWN_FIELDS = [
  "namespace",
  "cluster",
  "shard",
  "old_master_addr",
  "new_master",
  "addr",
  "reason",
  "task",
  "range",
  "detail",
  "error",
];

/**
 * What of the probe's output the terminal shows: failovers, repairs, migration steps, warnings
 * and errors; not the routine once-a-second summary. Takes the text lines cron/probe.ts used
 * to print and the JSON lines of its logger (pino: `level`, `msg`, fields).
 */
export function probeLineToShow(line: string): string | undefined {
  const text = line.trim();
  if (text === "") return undefined;
  if (text.startsWith("{")) {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return text;
    }
    const level = entry.level;
    const loud =
      (typeof level === "number" && level >= 40) ||
      (typeof level === "string" && ["warn", "error", "fatal"].includes(level));
    const msg = typeof entry.msg === "string" ? entry.msg : "";
    if (!loud && !/^(failover|repair|migration)\b/.test(msg)) return undefined;
    const fields = SHOWN_FIELDS.filter((k) => entry[k] !== undefined && entry[k] !== null).map(
      (k) => `${k} ${typeof entry[k] === "string" ? entry[k] : JSON.stringify(entry[k])}`,
    );
    return fields.length > 0 ? `${msg} (${fields.join(", ")})` : msg;
  }
  // Node's own warnings (a deprecation, say) stay in the log.
  if (/^\(node:\d+\)|^\(Use `node --trace/.test(text)) return undefined;
  if (/^probe: clusters \d+, probed \d+, skipped \d+, failovers 0, repairs 0 in/.test(text)) {
    return undefined;
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// kvctl, or our own table when kvctl is not there

function kvctlArgs(s: LocalSettings, url: string, args: string[]): string[] {
  return [
    ...args,
    "-n",
    NAMESPACE,
    "-c",
    CLUSTER,
    "-H",
    url,
    ...(s.token ? ["--token", s.token] : []),
  ];
}

async function showCluster(s: LocalSettings, api: Api, down: ReadonlySet<string>): Promise<string> {
  const kvctl = join(s.root, "cli", "kvctl.js");
  if (existsSync(kvctl)) {
    const out = await run(process.execPath, [kvctl, ...kvctlArgs(s, api.base, ["showcluster"])], {
      cwd: s.root,
      timeoutMs: 30_000,
    });
    if (out.code === 0 && out.stdout.trim() !== "") {
      return `$ node cli/kvctl.js showcluster -n ${NAMESPACE} -c ${CLUSTER} -H ${api.base}\n${out.stdout.trimEnd()}`;
    }
    warn(`(kvctl showcluster failed: ${(out.stderr || out.stdout).trim().split("\n")[0]})`);
  }
  // FALLBACK until kvctl is complete: the same information, printed by this script.
  return `${clusterTable(await api.cluster(), down)}\n(printed by deploy/local: kvctl showcluster was not available)`;
}

function nextSteps(s: LocalSettings, url: string): string {
  const { spare } = clusterAddrs(s);
  const flags = `-n ${NAMESPACE} -c ${CLUSTER} -H ${url}`;
  const npm = "npm run local --";
  return [
    "Try next:",
    `  1. fail a master; the probe promotes its replica (shown in the cluster view):`,
    `       ${npm} kill-master 0          (then: ${npm} revive)`,
    `  2. move slots 0-99 and their keys from shard 0 to shard 1:`,
    `       node cli/kvctl.js migrate slot 0-99 --target 1 --wait ${flags}`,
    `  3. scale out: add a 4th shard on the two spare nodes and rebalance the slots onto it:`,
    `       node cli/kvctl.js scale out --nodes ${spare.join(",")} --wait ${flags}`,
    `  Any time: node cli/kvctl.js showcluster ${flags}    or    ${npm} status`,
    ...(s.token ? ["  (KVC_API_TOKENS is set: export KVCTL_TOKEN=<one of them> for kvctl)"] : []),
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// `npm run local`

async function up(s: LocalSettings, withLoad: boolean): Promise<number> {
  const files = paths(s);
  mkdirSync(files.logs, { recursive: true });

  const already = await runningStack(files.state);
  if (already) {
    say(
      `A local stack is already running here (pid ${already.pid}, started ${already.startedAt}).`,
    );
    say(`  API: ${already.api}    etcd: ${already.etcd}    nodes: ${already.nodes.kind}`);
    say(`Stop it with Ctrl-C in its terminal or \`npm run local -- stop\`; its cluster:`);
    say();
    say(await showCluster(s, new Api(already.api, s.token), new Set()).catch((e) => String(e)));
    return 0;
  }
  const stale = readState(files.state);
  if (stale) {
    let cleaned = 0;
    for (const p of stale.processes) if (await killLeftover(p.pid, p.cmd)) cleaned++;
    if (cleaned > 0) say(`Stopped ${cleaned} process(es) left behind by an earlier run.`);
    removeState(files.state);
  }

  const busy = [];
  for (const p of portsToCheck(s)) if (await portInUse(p.port)) busy.push(p);
  if (busy.length > 0) {
    throw new StartupError(
      [
        "These ports are taken; free them or move the stack with the variables shown:",
        ...busy.map((b) => `  ${HOST}:${b.port}  ${b.what}  (${b.variable})`),
      ].join("\n"),
    );
  }

  const lookup = lookupEtcd(defaultLookupContext(s.etcdBin, (n) => which(n)));
  let etcdBin: string;
  if (lookup.kind === "missing") throw new StartupError(lookup.message);
  if (lookup.kind === "install") {
    say("etcd is not installed; installing Debian's etcd-server (running as root with apt-get):");
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    let out = await run(lookup.command[0]!, lookup.command.slice(1), { env, timeoutMs: 600_000 });
    if (out.code !== 0) {
      await run(lookup.command[0]!, ["update"], { env, timeoutMs: 600_000 });
      out = await run(lookup.command[0]!, lookup.command.slice(1), { env, timeoutMs: 600_000 });
    }
    const found = which("etcd") ?? (existsSync("/usr/bin/etcd") ? "/usr/bin/etcd" : undefined);
    if (out.code !== 0 || !found) {
      throw new StartupError(
        `apt-get install etcd-server failed:\n${out.stderr.trim().split("\n").slice(-5).join("\n")}`,
      );
    }
    etcdBin = found;
  } else {
    etcdBin = lookup.bin;
  }

  const stack = new Stack(s, etcdBin, withLoad);
  return stack.run();
}

class Stack {
  private readonly files: ReturnType<typeof paths>;
  private readonly api: Api;
  private etcd: Managed | undefined;
  private controller: Managed | undefined;
  private probe: Managed | undefined;
  private load: ClientLoad | undefined;
  private nodes: NodeSet | undefined;
  private control: Server | undefined;
  private stopping: Promise<void> | undefined;
  private starting: Promise<void> | undefined;
  private firstSignalAt = 0;
  private readonly recent = new Map<string, number>();
  private ready = false;
  private exit: (code: number) => void = () => {};
  private readonly childEnv: NodeJS.ProcessEnv;

  constructor(
    private readonly s: LocalSettings,
    private readonly etcdBin: string,
    private readonly withLoad: boolean,
  ) {
    this.files = paths(s);
    this.api = new Api(apiUrl(s), s.token);
    this.childEnv = {
      ...process.env,
      KVC_ETCD_ENDPOINTS: etcdEndpoint(s),
      ...etcdClientEnv(s),
      KVC_ETCD_PREFIX: s.prefix,
      KVC_HOST: HOST,
      KVC_PORT: String(s.apiPort),
      // Lets anyone find what this stack started (tests use it).
      KVC_LOCAL_STACK: s.dir,
    };
  }

  async run(): Promise<number> {
    const done = new Promise<number>((resolve) => (this.exit = resolve));
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
      process.on(signal, () => this.onSignal(signal));
    }
    process.on("uncaughtException", (err) => this.fail(err));
    process.on("unhandledRejection", (err) => this.fail(err));
    this.starting = this.start();
    try {
      await this.starting;
    } catch (err) {
      this.fail(err);
    }
    return done;
  }

  private fail(err: unknown) {
    if (err instanceof Aborted) return;
    const message =
      err instanceof StartupError ? err.message : `local stack: ${(err as Error)?.stack ?? err}`;
    warn(message);
    void this.shutdown(1);
  }

  private onSignal(signal: string) {
    const now = Date.now();
    if (this.stopping) {
      // npm and tsx relay the terminal's Ctrl-C too: only a later, separate one forces.
      if (now - this.firstSignalAt > 1500) {
        warn("Stopping now (SIGKILL).");
        for (const m of this.managed()) {
          try {
            process.kill(m.pid, "SIGKILL");
          } catch {}
        }
        removeState(this.files.state);
        process.exit(130);
      }
      return;
    }
    this.firstSignalAt = now;
    say(`\n${signal}: stopping the local stack...`);
    void this.shutdown(0);
  }

  private managed(): Managed[] {
    const nodeProcs = (this.nodes?.nodes ?? []).flatMap((n) => (n.process ? [n.process] : []));
    return [this.probe, this.controller, ...nodeProcs, this.etcd].filter(
      (m): m is Managed => m !== undefined,
    );
  }

  private saveState() {
    if (!this.control) return;
    const address = this.control.address();
    const state: StackState = {
      pid: process.pid,
      control: typeof address === "object" && address ? address.port : 0,
      api: this.api.base,
      etcd: etcdEndpoint(this.s),
      dir: this.s.dir,
      nodes: { kind: this.nodes?.kind ?? "simulator", addrs: nodeAddrs(this.s) },
      processes: this.managed().map((m) => ({ name: m.name, pid: m.pid, cmd: m.cmd })),
      startedAt: new Date().toISOString(),
    };
    writeState(this.files.state, state);
  }

  /** Called between start-up steps: a Ctrl-C during start-up stops it there. */
  private checkpoint() {
    if (this.stopping) throw new Aborted();
  }

  private async start() {
    const s = this.s;
    const logs = this.files.logs;
    say(`kvrocks-controller local stack: state in ${rel(s.dir)}/, logs in ${rel(logs)}/`);

    this.control = await startControlServer({
      "GET /status": async () => this.status(),
      "POST /kill-master": async (body) => this.killMaster(Number(body.shard ?? 0)),
      "POST /revive": async () => this.revive(),
      "POST /stop": async () => {
        setTimeout(() => void this.shutdown(0), 10);
        return { stopping: true };
      },
    });
    this.saveState();

    // etcd
    const reused = existsSync(join(this.files.etcdData, "member"));
    const version = /etcd Version: (\S+)/.exec(
      (await run(this.etcdBin, ["--version"])).stdout,
    )?.[1];
    this.checkpoint();
    if (s.etcdTls) ensureEtcdCertificates(s);
    this.etcd = startProcess("etcd", this.etcdBin, etcdArgs(s), {
      cwd: s.dir,
      env: { ...process.env, KVC_LOCAL_STACK: s.dir },
      log: join(logs, "etcd.log"),
    });
    this.watch(this.etcd, "etcd");
    this.saveState();
    await this.waitFor("etcd", this.etcd, () => etcdHealthy(s), 20_000);
    say(
      `  etcd        ${etcdEndpoint(s)}  etcd ${version ?? "(version unknown)"} (${this.etcdBin}); data ${rel(this.files.etcdData)}${reused ? " (reused)" : ""}`,
    );

    // Kvrocks nodes
    const kvrocks = findKvrocks(s.kvrocksBin, (n) => which(n));
    this.checkpoint();
    this.nodes = kvrocks
      ? await startRealNodes(kvrocks, s, (node, how) => this.nodeCrashed(node, how))
      : await startSimulatedNodes(s);
    this.checkpoint();
    this.saveState();
    const ports = `${HOST}:${s.nodePort}-${s.nodePort + this.nodes.nodes.length - 1}`;
    if (this.nodes.kind === "kvrocks") {
      say(
        `  nodes       ${ports}  real Kvrocks (${kvrocks}); configs and data in ${rel(this.files.kvrocks)}/`,
      );
    } else {
      say(`  nodes       ${ports}  SIMULATED Kvrocks nodes (in this process): no kvrocks on PATH`);
      say(
        `              and KVROCKS_BIN unset. For real ones: KVROCKS_BIN=/path/to/kvrocks npm run local`,
      );
    }

    // controller
    this.checkpoint();
    this.controller = this.startController();
    await this.waitFor("the controller", this.controller, () => this.api.ready(), 60_000);
    say(`  controller  ${this.api.base}  (pid ${this.controller.pid}, prefix ${s.prefix})`);

    // the demo cluster, then the probe
    const { members } = clusterAddrs(s);
    const outcome = await ensureDemoCluster(this.api, members, nodeAddrs(s));
    this.checkpoint();
    this.probe = this.startProbe();
    this.saveState();
    say(
      `  probe       every 1 s (cron/probe.ts --for ${PROBE_FOR} --every 1s, pid ${this.probe.pid})`,
    );
    const what =
      outcome.kind === "created"
        ? "created"
        : outcome.kind === "reused"
          ? "reused from etcd and pushed to the nodes"
          : `re-created (the stored one used ${outcome.stale.join(", ")})`;
    const c = outcome.cluster;
    const nodeCount = c.shards.reduce((n, sh) => n + sh.nodes.length, 0);
    say(
      `  cluster     ${NAMESPACE}/${CLUSTER}: ${c.shards.length} shards, ${nodeCount} nodes, version ${c.version}, ${what}`,
    );
    if (this.withLoad) {
      this.load = new ClientLoad(members);
      this.load.start();
      say(
        `  load        ${LOAD_WRITES_PER_SECOND} writes and ${LOAD_WRITES_PER_SECOND} reads a second over ${LOAD_KEYS} keys (kvc-demo:N), one cluster client in this process; --no-load turns it off`,
      );
    }
    say(`  console     ${this.api.base}/ui`);
    // Let the probe's first round in, so the view below shows health and versions.
    await this.api.waitProbed(10_000);
    this.checkpoint();
    say();
    say(await showCluster(s, this.api, this.downNodes()));
    say();
    say(nextSteps(s, this.api.base));
    say();
    say(
      `Open the console: ${this.api.base}/ui  (slot map, nodes, live charts of each node${this.withLoad ? " under the client load" : ""}, tasks)`,
    );
    say(`Logs: ${rel(logs)}/  Ctrl-C stops everything this started.`);
    this.ready = true;
    say(`${READY_BANNER}: ${this.api.base}`);
  }

  private startController(): Managed {
    const m = startProcess(
      "controller",
      process.execPath,
      ["--import", "tsx", "functions/node.ts"],
      {
        cwd: this.s.root,
        env: this.childEnv,
        log: join(this.files.logs, "controller.log"),
        onLine: () => {},
      },
    );
    this.watch(m, "controller");
    return m;
  }

  private startProbe(): Managed {
    const m = startProcess(
      "probe",
      process.execPath,
      ["--import", "tsx", "cron/probe.ts", "--for", PROBE_FOR, "--every", "1s"],
      {
        cwd: this.s.root,
        env: this.childEnv,
        log: join(this.files.logs, "probe.log"),
        onLine: (line) => this.probeLine(line),
      },
    );
    void m.exited.then(({ code }) => {
      if (m.stopping || this.stopping) return;
      // The loop ends after PROBE_FOR, or crashed: start the next invocation, like cron would.
      if (code !== 0)
        warn(`probe exited with code ${code}; starting it again (log: ${rel(m.log)})`);
      setTimeout(() => {
        if (this.stopping) return;
        this.probe = this.startProbe();
        this.saveState();
      }, 1000);
    });
    return m;
  }

  /** Shows what the probe did (failovers, repairs, errors), not its routine round summaries. */
  private probeLine(line: string) {
    const text = probeLineToShow(line);
    if (text === undefined) return;
    const key = text.replace(/\d+(\.\d+)? ?ms/g, "");
    const now = Date.now();
    if ((this.recent.get(key) ?? 0) > now - 30_000) return;
    this.recent.set(key, now);
    say(`[probe] ${text}`);
  }

  private watch(m: Managed, what: string) {
    void m.exited.then(({ code, signal }) => {
      if (m.stopping || this.stopping) return;
      warn(
        `${what} exited unexpectedly (${signal ?? `code ${code}`}); last lines of ${rel(m.log)}:\n${tail(m.log)}`,
      );
      void this.shutdown(1);
    });
  }

  private nodeCrashed(node: LocalNode, how: string) {
    if (this.stopping) return;
    warn(
      `Kvrocks node ${node.addr} exited (${how}). The probe sees it down; \`npm run local -- revive\` starts it again.`,
    );
  }

  private async waitFor(what: string, m: Managed, ok: () => Promise<boolean>, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      this.checkpoint();
      if (m.child.exitCode !== null || m.child.signalCode !== null) {
        m.stopping = true;
        throw new StartupError(
          `${what} exited at start (code ${m.child.exitCode}); last lines of ${rel(m.log)}:\n${tail(m.log)}`,
        );
      }
      if (await ok()) return;
      await sleep(100);
    }
    throw new StartupError(
      `${what} was not ready after ${timeoutMs / 1000} s; last lines of ${rel(m.log)}:\n${tail(m.log)}`,
    );
  }

  private downNodes(): Set<string> {
    return new Set((this.nodes?.nodes ?? []).filter((n) => !n.running).map((n) => n.addr));
  }

  private status() {
    return {
      ready: this.ready,
      nodes: this.nodes?.kind,
      down: [...this.downNodes()],
      load: this.load?.counters ?? null,
      processes: this.managed().map((m) => ({ name: m.name, pid: m.pid })),
    };
  }

  private async killMaster(shardIndex: number) {
    if (!this.ready || !this.nodes) throw new Error("the stack is still starting");
    const cluster = await this.api.cluster();
    const shard = cluster.shards[shardIndex];
    if (!Number.isInteger(shardIndex) || !shard) {
      throw new Error(
        `no shard ${shardIndex}: the cluster has shards 0-${cluster.shards.length - 1}`,
      );
    }
    const master = shard.nodes.find((n) => n.role === "master");
    if (!master) throw new Error(`shard ${shardIndex} has no master`);
    const node = this.nodes.nodes.find((n) => n.addr === master.addr);
    if (!node) throw new Error(`the master ${master.addr} is not a node of this stack`);
    if (!node.running) throw new Error(`the master ${master.addr} is already down`);
    await node.kill();
    say(
      `[local] killed ${master.addr}, master of shard ${shardIndex} (npm run local -- kill-master)`,
    );
    return { shard: shardIndex, addr: master.addr, id: master.id, version: cluster.version };
  }

  private async revive() {
    const revived: string[] = [];
    for (const node of this.nodes?.nodes ?? []) {
      if (!node.running) {
        await node.revive();
        revived.push(node.addr);
      }
    }
    this.saveState();
    if (revived.length > 0)
      say(`[local] started ${revived.join(", ")} again (npm run local -- revive)`);
    return { revived };
  }

  shutdown(code: number): Promise<void> {
    if (!this.stopping) {
      this.stopping = (async () => {
        // Let start-up reach its next step (it stops there), so nothing starts after this.
        await this.starting?.catch(() => {});
        const order: [string, () => Promise<void>][] = [
          ["client load", async () => this.load && (await this.load.stop())],
          ["probe", async () => this.probe && (await stopProcess(this.probe))],
          ["controller", async () => this.controller && (await stopProcess(this.controller))],
          [
            "nodes",
            async () => {
              await Promise.all((this.nodes?.nodes ?? []).map((n) => n.stop()));
            },
          ],
          ["etcd", async () => this.etcd && (await stopProcess(this.etcd))],
        ];
        for (const [what, stop] of order) {
          try {
            await stop();
          } catch (err) {
            warn(`stopping ${what}: ${(err as Error).message}`);
          }
        }
        await new Promise<void>((resolve) =>
          this.control ? this.control.close(() => resolve()) : resolve(),
        );
        removeState(this.files.state);
        if (code === 0) say("Local stack stopped: etcd, controller, probe and nodes are down.");
        this.exit(code);
      })();
    }
    return this.stopping;
  }
}

// ---------------------------------------------------------------------------------------------
// The sibling commands

async function needStack(s: LocalSettings): Promise<StackState> {
  const state = await runningStack(paths(s).state);
  if (!state) {
    throw new StartupError(
      `No local stack is running from ${rel(s.dir)}/. Start one with \`npm run local\` (in another terminal).`,
    );
  }
  return state;
}

async function status(s: LocalSettings): Promise<number> {
  const state = await needStack(s);
  const st = await callControl<{
    ready: boolean;
    nodes: string;
    down: string[];
    load: LoadCounters | null;
  }>(state, "GET", "/status");
  say(
    `Local stack (pid ${state.pid}) ${st.ready ? "ready" : "starting"}: API ${state.api}, etcd ${state.etcd}`,
  );
  say(`  nodes: ${st.nodes}, down: ${st.down.length > 0 ? st.down.join(", ") : "none"}`);
  say(`  console: ${state.api}/ui`);
  say(
    st.load
      ? `  client load: ${st.load.writes} writes and ${st.load.reads} reads acknowledged, ${st.load.errors} failed${st.load.lastError ? ` (last: ${st.load.lastError})` : ""}`
      : "  client load: off (--no-load)",
  );
  for (const p of state.processes) say(`  ${p.name.padEnd(24)} pid ${p.pid}`);
  say();
  say(await showCluster(s, new Api(state.api, s.token), new Set(st.down)));
  return 0;
}

async function killMaster(s: LocalSettings, shardArg: string | undefined): Promise<number> {
  const state = await needStack(s);
  const shard = shardArg === undefined ? 0 : Number(shardArg);
  if (!Number.isInteger(shard) || shard < 0)
    throw new StartupError(`kill-master: "${shardArg}" is not a shard index`);
  const killed = await callControl<{ shard: number; addr: string; id: string; version: number }>(
    state,
    "POST",
    "/kill-master",
    { shard },
  );
  const failures = Number(process.env.KVC_PROBE_FAILURES || 3);
  say(`Killed ${killed.addr} (node ${killed.id.slice(0, 8)}), the master of shard ${shard}.`);
  say(`Waiting for the probe to fail it over (after ${failures} failed probes, one a second)...`);
  const api = new Api(state.api, s.token);
  const started = Date.now();
  let after: ClusterView | undefined;
  while (Date.now() - started < 60_000) {
    await sleep(250);
    const cluster = await api.cluster().catch(() => undefined);
    const master = cluster?.shards[shard]?.nodes.find((n) => n.role === "master");
    if (cluster && master && master.id !== killed.id) {
      after = cluster;
      say(
        `Shard ${shard} failed over to ${master.addr} (node ${master.id.slice(0, 8)}) after ${((Date.now() - started) / 1000).toFixed(1)} s; cluster version ${killed.version} -> ${cluster.version}.`,
      );
      break;
    }
  }
  if (!after) {
    warn(`No failover within 60 s; see ${rel(join(state.dir, "logs", "probe.log"))}.`);
    return 1;
  }
  // Let a probe round record the new version on the live nodes before showing them.
  await api.waitProbed(5000);
  const st = await callControl<{ down: string[] }>(state, "GET", "/status");
  say();
  say(await showCluster(s, api, new Set(st.down)));
  say();
  say(
    `Bring ${killed.addr} back (it rejoins as a replica of the new master): npm run local -- revive`,
  );
  return 0;
}

async function revive(s: LocalSettings): Promise<number> {
  const state = await needStack(s);
  const { revived } = await callControl<{ revived: string[] }>(
    state,
    "POST",
    "/revive",
    {},
    60_000,
  );
  if (revived.length === 0) {
    say("Every node is running; nothing to revive.");
    return 0;
  }
  say(
    `Started ${revived.join(", ")} again; the probe pushes the current topology to it within a second or two.`,
  );
  return 0;
}

async function stop(s: LocalSettings): Promise<number> {
  const state = await needStack(s);
  await callControl(state, "POST", "/stop");
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && readState(paths(s).state)) await sleep(200);
  say(`Stopped the local stack (pid ${state.pid}).`);
  return 0;
}

const HELP = `npm run local [-- COMMAND]

  (none)          start etcd, 8 Kvrocks nodes (real if KVROCKS_BIN or kvrocks on PATH, else
                  simulated), the controller and the probe; create ${NAMESPACE}/${CLUSTER}; run a small
                  client load on it (${LOAD_WRITES_PER_SECOND} writes and reads a second); Ctrl-C stops all
  --no-load       (with the above) no client load
  status          show the running stack and its cluster
  kill-master [N] kill the master of shard N (default 0) and wait for the probe's failover
  revive          start the killed nodes again
  stop            stop a stack running in another terminal

Environment: KVC_PORT (API, 9379), KVC_LOCAL_ETCD_PORT (32379), KVC_LOCAL_ETCD_PEER_PORT (32380),
KVC_LOCAL_NODE_PORT (first node, 30001), KVC_LOCAL_DIR (.local), KVROCKS_BIN, ETCD_BIN, and every
KVC_* variable of the controller (passed to the controller and the probe).`;

async function main(argv: string[]): Promise<number> {
  dropWhenClosed(process.stdout);
  dropWhenClosed(process.stderr);
  // `--no-load` may come alone (`npm run local -- --no-load`) or after `up`.
  const withLoad = !argv.includes("--no-load");
  const [command = "up", ...rest] = argv.filter((a) => a !== "--no-load");
  let s: LocalSettings;
  try {
    s = settingsFrom(process.env, root);
  } catch (err) {
    warn(`npm run local: ${(err as Error).message}`);
    return 2;
  }
  try {
    switch (command) {
      case "up":
        return await up(s, withLoad);
      case "status":
        return await status(s);
      case "kill-master":
        return await killMaster(s, rest[0]);
      case "revive":
        return await revive(s);
      case "stop":
        return await stop(s);
      case "help":
      case "--help":
      case "-h":
        say(HELP);
        return 0;
      default:
        warn(`npm run local: unknown command "${command}"\n\n${HELP}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof StartupError) warn(err.message);
    else if (err instanceof ApiError) warn(`the controller answered: ${err.message}`);
    else warn(`npm run local ${command}: ${(err as Error).message}`);
    return 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
