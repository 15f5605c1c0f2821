// The campaign's deployment, all on loopback and all started and stopped by the campaign: a
// 3-member etcd, two API processes (functions/node.ts), probe invocations on an overlapping
// schedule under two observer names (cron/probe.ts, as the CronJob runs them), Kvrocks nodes
// (real, or the simulator in this process) and a TCP proxy between observer-b and one node.
// Built from the test support pieces: EtcdCluster, startTestNodes, spawnServer, TcpProxy.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../lib/config/index.js";
import { openRuntime, type Runtime } from "../../lib/runtime.js";
import { type ServerProcess, sleep, spawnServer } from "../reliability/support.js";
import { EtcdCluster } from "../support/etcd.js";
import { startTestNodes, type TestNode } from "../support/nodes.js";
import { TcpProxy } from "../support/tcp-proxy.js";

export const PREFIX = "/kvc-chaos";
export const OBSERVERS = ["observer-a", "observer-b"] as const;

export interface DeploymentOptions {
  nodes: "real" | "sim";
  quorum: number;
  /** A new probe invocation per observer every `probeEveryMs`, each running `probeForMs`. */
  probeEveryMs: number;
  probeForMs: number;
  log: (kind: string, what: string) => void;
  /** An API process that exited without being killed by the campaign. */
  onApiExit?: (index: number, what: string) => void;
}

export interface ProbeRun {
  observer: string;
  child: ChildProcess;
  startedAt: number;
  exited: boolean;
}

export class Deployment {
  readonly dir = mkdtempSync(join(tmpdir(), "kvc-chaos-"));
  etcd!: EtcdCluster;
  /** The campaign's own reads of etcd (all three endpoints), for the checker. */
  runtime!: Runtime;
  apis: (ServerProcess | null)[] = [null, null];
  private apiTurn = 0;
  /** 6 for the main cluster, 2 spares, 2 for the other namespace's cluster. */
  nodes: TestNode[] = [];
  proxy: TcpProxy | null = null;
  /** The node observer-b reaches only through the proxy. */
  partitioned: TestNode | null = null;
  readonly probes: ProbeRun[] = [];
  private probeTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  probeStarts = 0;

  constructor(readonly opts: DeploymentOptions) {}

  get env(): Record<string, string> {
    return {
      KVC_ETCD_ENDPOINTS: this.etcd.endpoints.join(","),
      KVC_ETCD_PREFIX: PREFIX,
      KVC_PROBE_QUORUM: String(this.opts.quorum),
      KVC_LOG_LEVEL: "info",
      KVC_API_TOKENS: "",
    };
  }

  async start(): Promise<void> {
    this.etcd = await EtcdCluster.start(3);
    this.opts.log("setup", `etcd members ${this.etcd.endpoints.join(", ")}; logs in ${this.dir}`);
    this.runtime = openRuntime(
      loadConfig(undefined, {
        KVC_ETCD_ENDPOINTS: this.etcd.endpoints.join(","),
        KVC_ETCD_PREFIX: PREFIX,
        KVC_LOG_LEVEL: "silent",
      }),
    );
    if (this.opts.nodes === "sim") process.env.KVROCKS_BIN = "";
    this.nodes = await startTestNodes(10);
    this.opts.log("setup", `nodes (${this.opts.nodes}) ${this.nodes.map((n) => n.addr).join(" ")}`);
    await Promise.all([0, 1].map((i) => this.startApi(i)));
    this.partitioned = this.nodes[0]!;
    this.proxy = await TcpProxy.start(this.partitioned.addr);
  }

  async startApi(i: number): Promise<void> {
    // The API logs at warn: at info it logs every request, which the campaign would hold.
    const api = await spawnServer({ ...this.env, KVC_LOG_LEVEL: "warn" });
    this.apis[i] = api;
    this.opts.log("setup", `api ${i} at ${api.base}`);
    api.child.once("exit", (code, signal) => {
      if (this.apis[i] !== api || this.stopping) return; // killed or stopped by the campaign
      this.apis[i] = null;
      const file = join(this.dir, `api-${i}-exit-${Date.now()}.log`);
      writeFileSync(file, api.output());
      this.opts.onApiExit?.(
        i,
        `exited by itself (${signal ?? code}); its output: ${file}; last lines: ${api.output().slice(-600)}`,
      );
      // Keep the campaign going: a new instance in its place.
      setTimeout(() => void this.startApi(i).catch(() => {}), 1000);
    });
  }

  async killApi(i: number): Promise<void> {
    const api = this.apis[i];
    if (!api) return;
    this.apis[i] = null; // before the kill: its exit is ours, not a crash
    api.child.kill("SIGKILL");
    await new Promise<void>((r) => (api.alive() ? api.child.once("exit", () => r()) : r()));
  }

  /** The next live API instance, in turn: requests are spread over both. */
  nextApi(): ServerProcess | null {
    for (let tries = 0; tries < this.apis.length; tries++) {
      const api = this.apis[this.apiTurn++ % this.apis.length];
      if (api?.alive()) return api;
    }
    return null;
  }

  startProbes(): void {
    const launch = () => {
      if (this.stopping) return;
      for (const observer of OBSERVERS) this.spawnProbe(observer);
    };
    launch();
    this.probeTimer = setInterval(launch, this.opts.probeEveryMs);
  }

  private spawnProbe(observer: string): void {
    const redirect =
      observer === "observer-b" && this.proxy && this.partitioned
        ? { KVC_TEST_CONNECT_REDIRECT: `${this.partitioned.addr}=${this.proxy.addr}` }
        : {};
    const nodeArgs =
      "KVC_TEST_CONNECT_REDIRECT" in redirect
        ? ["--import", "./test/support/connect-redirect.ts"]
        : [];
    const log = openSync(join(this.dir, `probe-${observer}.log`), "a");
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        ...nodeArgs,
        "cron/probe.ts",
        "--for",
        `${this.opts.probeForMs}ms`,
        "--every",
        "1s",
      ],
      {
        env: { ...process.env, ...this.env, KVC_PROBE_OBSERVER: observer, ...redirect },
        stdio: ["ignore", log, log],
      },
    );
    closeSync(log);
    const run: ProbeRun = { observer, child, startedAt: Date.now(), exited: false };
    this.probeStarts++;
    child.once("exit", () => {
      run.exited = true;
      const at = this.probes.indexOf(run);
      if (at >= 0) this.probes.splice(at, 1);
    });
    this.probes.push(run);
  }

  async stopProbes(): Promise<void> {
    this.stopping = true;
    if (this.probeTimer) clearInterval(this.probeTimer);
    const running = [...this.probes];
    for (const p of running) p.child.kill("SIGTERM");
    const deadline = Date.now() + 10_000;
    while (running.some((p) => !p.exited) && Date.now() < deadline) await sleep(50);
    for (const p of running) if (!p.exited) p.child.kill("SIGKILL");
  }

  /** The etcd member that leads now (index), or -1 when none answers. */
  async etcdLeader(): Promise<number> {
    for (const m of this.etcd.members) {
      if (!m.process) continue;
      try {
        const res = await fetch(`${m.clientUrl}/v3/maintenance/status`, {
          method: "POST",
          body: "{}",
          signal: AbortSignal.timeout(1000),
        });
        const body = (await res.json()) as { header?: { member_id?: string }; leader?: string };
        if (body.leader === undefined) continue;
        for (let i = 0; i < this.etcd.members.length; i++) {
          const other = this.etcd.members[i]!;
          if (!other.process) continue;
          const r = await fetch(`${other.clientUrl}/v3/maintenance/status`, {
            method: "POST",
            body: "{}",
            signal: AbortSignal.timeout(1000),
          }).catch(() => null);
          const b = (await r?.json().catch(() => null)) as {
            header?: { member_id?: string };
          } | null;
          if (b?.header?.member_id === body.leader) return i;
        }
      } catch {}
    }
    return -1;
  }

  async stop(): Promise<void> {
    await this.stopProbes();
    await Promise.all(this.apis.map((a) => a?.stop()));
    await this.proxy?.close();
    await Promise.all(this.nodes.map((n) => n.close()));
    this.runtime?.close();
    await this.etcd?.stop();
  }
}
