// The Kvrocks nodes of the local stack: real `kvrocks` processes when the binary is there
// (KVROCKS_BIN, or `kvrocks` on PATH), otherwise the simulator from test/support, in this
// process. Either way each node can be killed (like a crash) and revived on its own port.
import { mkdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { type Managed, sleep, startProcess, stopProcess, tail } from "./procs.js";
import { HOST, type LocalSettings, nodePorts, paths } from "./settings.js";

export interface LocalNode {
  addr: string;
  port: number;
  readonly running: boolean;
  /** The OS process of a real node (undefined for the simulator, which runs in this process). */
  readonly process: Managed | undefined;
  /** Like a crash: SIGKILL for a real node; listener and connections cut for a simulated one. */
  kill(): Promise<void>;
  /** Start it again on the same port, with its data. */
  revive(): Promise<void>;
  /** Stop for good, at shutdown. */
  stop(): Promise<void>;
}

export interface NodeSet {
  kind: "kvrocks" | "simulator";
  /** The kvrocks binary, or why the simulator is used. */
  detail: string;
  nodes: LocalNode[];
}

export function findKvrocks(
  kvrocksBin: string | undefined,
  which: (name: string) => string | undefined,
): string | undefined {
  return kvrocksBin ?? which("kvrocks");
}

/** A minimal kvrocks.conf for one cluster-mode node on loopback. */
export function kvrocksConfig(opts: { port: number; dir: string }): string {
  return [
    "# Written by `npm run local` (deploy/local/nodes.ts) at every start; edits are lost.",
    `bind ${HOST}`,
    `port ${opts.port}`,
    "cluster-enabled yes",
    "daemonize no",
    `dir ${opts.dir}`,
    `log-dir ${opts.dir}`,
    `pidfile ${join(opts.dir, "kvrocks.pid")}`,
    "workers 2",
    "",
  ].join("\n");
}

/** PING over RESP; true on +PONG (a node still loading answers -LOADING). */
export function pingNode(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    let answer = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("*1\r\n$4\r\nPING\r\n"));
    socket.on("data", (chunk: Buffer) => {
      answer += chunk.toString();
      if (answer.includes("\r\n")) done(answer.startsWith("+PONG"));
    });
  });
}

class RealNode implements LocalNode {
  readonly addr: string;
  private proc: Managed | undefined;
  private readonly dir: string;
  private readonly conf: string;

  constructor(
    private readonly bin: string,
    readonly port: number,
    private readonly s: LocalSettings,
    private readonly onCrash: (node: LocalNode, how: string) => void,
  ) {
    this.addr = `${HOST}:${port}`;
    this.dir = join(paths(s).kvrocks, String(port));
    this.conf = join(this.dir, "kvrocks.conf");
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.child.exitCode === null && !this.proc.stopping;
  }

  get process(): Managed | undefined {
    return this.proc;
  }

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(this.conf, kvrocksConfig({ port: this.port, dir: this.dir }));
    const proc = startProcess(`kvrocks ${this.addr}`, this.bin, ["-c", this.conf], {
      cwd: this.dir,
      // Marks the process as this stack's (see stack.ts).
      env: { ...process.env, KVC_LOCAL_STACK: this.s.dir },
      log: join(this.dir, "kvrocks.out"),
    });
    this.proc = proc;
    void proc.exited.then(({ code, signal }) => {
      if (!proc.stopping) this.onCrash(this, signal ? `signal ${signal}` : `exit code ${code}`);
    });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) break;
      if (await pingNode(this.port)) return;
      await sleep(100);
    }
    await stopProcess(proc, 1000);
    throw new Error(
      `kvrocks on ${this.addr} did not answer PING (config ${this.conf}); its output:\n${tail(proc.log)}\n${tail(join(this.dir, "kvrocks.INFO"))}`,
    );
  }

  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.child.exitCode !== null) return;
    proc.stopping = true;
    process.kill(proc.pid, "SIGKILL");
    await proc.exited;
  }

  async revive(): Promise<void> {
    if (this.running) return;
    await this.start();
  }

  async stop(): Promise<void> {
    if (this.proc) await stopProcess(this.proc, 10_000);
  }
}

export async function startRealNodes(
  bin: string,
  s: LocalSettings,
  onCrash: (node: LocalNode, how: string) => void,
): Promise<NodeSet> {
  const nodes = nodePorts(s).map((p) => new RealNode(bin, p, s, onCrash));
  const set: NodeSet = { kind: "kvrocks", detail: bin, nodes };
  try {
    await Promise.all(nodes.map((n) => n.start()));
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
  return set;
}

export async function startSimulatedNodes(s: LocalSettings): Promise<NodeSet> {
  // Loaded only when needed: a stack with real Kvrocks never touches test code.
  const sim = await import("../../test/support/kvrocks-sim/server.js");
  const started: { close(): Promise<void> }[] = [];
  const nodes: LocalNode[] = [];
  try {
    for (const port of nodePorts(s)) {
      const node = await sim.startSimNode({ port, host: HOST });
      started.push(node);
      nodes.push({
        addr: node.addr,
        port,
        get running() {
          return node.running;
        },
        process: undefined,
        kill: () => node.stop(),
        revive: () => node.start(),
        stop: () => node.close(),
      });
    }
  } catch (err) {
    await Promise.all(started.map((n) => n.close()));
    throw err;
  }
  return {
    kind: "simulator",
    detail: "no kvrocks on PATH and KVROCKS_BIN unset",
    nodes,
  };
}
