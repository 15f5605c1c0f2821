// One way for tests to get Kvrocks nodes: real processes of the binary `KVROCKS_BIN` names,
// or simulated ones when it is unset, behind one interface. Tests written against
// `TestNode` run unchanged on both (`npm test` on the simulator, `npm run test:kvrocks` on
// real nodes).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { onTestFailed } from "vitest";
import { parseReplicationInfo } from "../../lib/kvrocks/index.js";
import { type SimNode, type SimNodeOptions, startSimNode } from "./kvrocks-sim/server.js";

export interface TestNodeOptions {
  /** requirepass (and masterauth, so replicas can follow their master). */
  password?: string;
  /** Extra config lines for a real node (`migrate-speed: "20"`); ignored by the simulator. */
  config?: Record<string, string>;
  /** The simulator's stand-ins for such settings; ignored by a real node. */
  simulator?: Pick<SimNodeOptions, "migrationDelayMs" | "replicaStopSleeps">;
}

/** What a test may do with a node, real or simulated. */
export interface TestNode {
  readonly host: string;
  readonly port: number;
  /** "host:port", as the controller is given it. */
  readonly addr: string;
  /** True for a real Kvrocks process. */
  readonly real: boolean;
  /** The simulated node, for tests that only make sense on the simulator (fault knobs). */
  readonly sim: SimNode | undefined;
  /** Whether the node is running (not killed; a paused node is running). */
  readonly running: boolean;
  /** SIGKILL: connections cut, data on disk kept. */
  kill(): Promise<void>;
  /** Start again on the same port and data dir. */
  restart(): Promise<void>;
  /**
   * Stop, discard everything the node kept (data, nodes.conf), start again on the same
   * port: a replaced machine, down for `downMs` in between. `sim` is the new simulated
   * node afterwards.
   */
  restartEmpty(downMs?: number): Promise<void>;
  /**
   * Stop, discard the data (RocksDB's directory) but keep nodes.conf, start again: the node
   * comes back initialized, in the role it had, at sequence 0.
   */
  restartWithoutData(): Promise<void>;
  /** SIGSTOP: connections stay open, nothing is answered until `resume`. */
  pause(): Promise<void>;
  /** SIGCONT. */
  resume(): Promise<void>;
  /** One command over a fresh RESP2 connection (authenticated when the node has a password). */
  call(...args: (string | number)[]): Promise<unknown>;
  /** The node's own log (stdout and stderr of the process; empty for the simulator). */
  log(): string;
  /** Stop for good and remove everything it left (data dir, config). */
  close(): Promise<void>;
}

/** The real binary tests should use, or undefined for the simulator. */
export function kvrocksBin(): string | undefined {
  const bin = process.env.KVROCKS_BIN;
  return bin === undefined || bin === "" ? undefined : bin;
}

export const usingRealKvrocks = (): boolean => kvrocksBin() !== undefined;

const started = new Set<TestNode>();

/** Starts `n` nodes: real when KVROCKS_BIN is set, simulated otherwise. */
export async function startTestNodes(n: number, opts: TestNodeOptions = {}): Promise<TestNode[]> {
  const bin = kvrocksBin();
  const nodes = await Promise.all(
    Array.from({ length: n }, () =>
      bin === undefined ? SimTestNode.start(opts) : RealTestNode.start(bin, opts),
    ),
  );
  for (const node of nodes) started.add(node);
  return nodes;
}

/** Closes every node this process started and has not closed yet. */
export async function closeTestNodes(): Promise<void> {
  await Promise.all([...started].map((n) => n.close()));
}

/**
 * Prints each node's log when the current test fails. Inside a test or a `beforeEach`
 * after the nodes exist; elsewhere it does nothing.
 */
export function attachNodeLogsOnFailure(nodes: readonly TestNode[]): void {
  const print = () => {
    for (const node of nodes) {
      const log = node.log();
      if (log !== "")
        console.error(`---- kvrocks ${node.addr} log (last 8 KiB) ----\n${log.slice(-8192)}`);
    }
  };
  try {
    onTestFailed(print);
  } catch {
    // Outside a test (beforeAll): no test to attach to; the nodes' logs stay readable by log().
  }
}

/** One command to the node at `addr` (no password), as `TestNode.call` sends it. */
export function callAddress(addr: string, ...args: (string | number)[]): Promise<unknown> {
  const at = addr.lastIndexOf(":");
  return callOnce(addr.slice(0, at), Number(addr.slice(at + 1)), undefined, args);
}

async function callOnce(
  host: string,
  port: number,
  password: string | undefined,
  args: (string | number)[],
): Promise<unknown> {
  const client = new Redis({
    host,
    port,
    protocol: 2,
    password: password || undefined,
    lazyConnect: true,
    connectTimeout: 2000,
    commandTimeout: 5000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    retryStrategy: () => null,
  });
  // The failure is thrown by `connect`/`call`; the event would only be noise.
  client.on("error", () => {});
  try {
    await client.connect();
    const [command, ...rest] = args.map(String);
    return await client.call(command!, ...rest);
  } finally {
    client.disconnect();
  }
}

class SimTestNode implements TestNode {
  readonly real = false;
  private constructor(
    private current: SimNode,
    private readonly password: string | undefined,
  ) {}

  static async start(opts: TestNodeOptions): Promise<SimTestNode> {
    return new SimTestNode(
      await startSimNode({ password: opts.password, ...opts.simulator }),
      opts.password,
    );
  }

  get sim() {
    return this.current;
  }
  async restartEmpty(downMs = 0) {
    const port = this.current.port;
    await this.current.close();
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    this.current = await startSimNode({ password: this.password, port });
  }

  async restartWithoutData() {
    await this.sim.stop();
    this.sim.kvrocks.store.replaceWith({ entries: [], sequence: 0 });
    await this.sim.start();
  }

  get host() {
    return this.sim.host;
  }
  get port() {
    return this.sim.port;
  }
  get addr() {
    return this.sim.addr;
  }
  get running() {
    return this.sim.running;
  }
  kill() {
    return this.sim.stop();
  }
  restart() {
    return this.sim.start();
  }
  async pause() {
    this.sim.setFault({ hang: true });
  }
  async resume() {
    this.sim.setFault({ hang: false });
  }
  call(...args: (string | number)[]) {
    return callOnce(this.host, this.port, this.password, args);
  }
  log() {
    return "";
  }
  async close() {
    started.delete(this);
    await this.sim.close();
  }
}

const LOG_LIMIT = 1 << 20;

class RealTestNode implements TestNode {
  readonly real = true;
  readonly sim = undefined;
  readonly host = "127.0.0.1";
  private proc: ChildProcess | null = null;
  private output = "";
  private closed = false;

  private constructor(
    private readonly bin: string,
    readonly port: number,
    private readonly dir: string,
    private readonly password: string | undefined,
  ) {}

  static async start(bin: string, opts: TestNodeOptions): Promise<RealTestNode> {
    if (!existsSync(bin)) throw new Error(`KVROCKS_BIN=${bin}: no such file`);
    // A free port can be taken between the probe and the bind: try a few.
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), `kvrocks-${port}-`));
      const node = new RealTestNode(bin, port, dir, opts.password);
      node.writeConfig(opts);
      try {
        await node.spawnAndWait();
        return node;
      } catch (err) {
        lastError = err;
        await node.close();
      }
    }
    throw lastError;
  }

  get addr() {
    return `${this.host}:${this.port}`;
  }

  get running() {
    return this.proc !== null;
  }

  private writeConfig(opts: TestNodeOptions): void {
    const lines: Record<string, string> = {
      bind: this.host,
      port: String(this.port),
      dir: join(this.dir, "data"),
      "cluster-enabled": "yes",
      daemonize: "no",
      "log-dir": "stdout",
      workers: "2",
      ...(opts.password ? { requirepass: opts.password, masterauth: opts.password } : {}),
      ...opts.config,
    };
    const text = Object.entries(lines)
      .map(([k, v]) => `${k} ${v}`)
      .join("\n");
    writeFileSync(join(this.dir, "node.conf"), `${text}\n`);
  }

  private async spawnAndWait(): Promise<void> {
    const proc = spawn(this.bin, ["-c", join(this.dir, "node.conf")], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    const append = (chunk: Buffer) => {
      this.output += chunk.toString("utf8");
      if (this.output.length > LOG_LIMIT) this.output = this.output.slice(-LOG_LIMIT / 2);
    };
    proc.stdout?.on("data", append);
    proc.stderr?.on("data", append);
    let exited: string | null = null;
    proc.once("exit", (code, signal) => {
      exited = `exited with ${signal ?? code}`;
      if (this.proc === proc) this.proc = null;
    });
    proc.once("error", (err) => {
      exited = `did not start: ${err.message}`;
      if (this.proc === proc) this.proc = null;
    });
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (exited !== null)
        throw new Error(`kvrocks on ${this.addr} ${exited}\n${this.output.slice(-4096)}`);
      try {
        // PING is answered while the node still loads its data; this is not.
        await this.call("CLUSTERX", "VERSION");
        return;
      } catch (err) {
        if (/NOAUTH|invalid password/i.test(String(err))) return;
        if (Date.now() > deadline) {
          throw new Error(`kvrocks on ${this.addr} not answering PING: ${String(err)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    const gone = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    // A stopped process must be continued to die promptly from SIGKILL in every kernel.
    proc.kill("SIGKILL");
    proc.kill("SIGCONT");
    await gone;
    this.proc = null;
  }

  async restart(): Promise<void> {
    if (this.closed) throw new Error(`kvrocks on ${this.addr} was closed`);
    if (this.proc) return;
    await this.spawnAndWait();
  }

  async restartEmpty(downMs = 0): Promise<void> {
    await this.kill();
    rmSync(join(this.dir, "data"), { recursive: true, force: true });
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await this.restart();
  }

  async restartWithoutData(): Promise<void> {
    await this.kill();
    rmSync(join(this.dir, "data", "db"), { recursive: true, force: true });
    await this.restart();
  }

  async pause(): Promise<void> {
    this.proc?.kill("SIGSTOP");
    await this.untilStopped(true);
  }

  async resume(): Promise<void> {
    this.proc?.kill("SIGCONT");
    await this.untilStopped(false);
  }

  /** A signal is delivered asynchronously: wait until the process state says it arrived. */
  private async untilStopped(stopped: boolean): Promise<void> {
    const pid = this.proc?.pid;
    if (pid === undefined) return;
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      let state = "";
      try {
        // "pid (comm) S ...": the state is the first field after the command name.
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      } catch {
        return; // no /proc (not Linux) or the process is gone
      }
      if ((state === "T" || state === "t") === stopped) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  call(...args: (string | number)[]): Promise<unknown> {
    return callOnce(this.host, this.port, this.password, args);
  }

  log(): string {
    return this.output;
  }

  /** For the exit hook only: no awaiting there. */
  killSync(): void {
    this.proc?.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }

  async close(): Promise<void> {
    started.delete(this);
    this.closed = true;
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// Real nodes must not outlive a test process that exits without closing them.
process.once("exit", () => {
  for (const node of started) {
    if (node instanceof RealTestNode) node.killSync();
  }
});

/** What a node says about itself over the wire: the same fields from real and simulated nodes. */
export interface NodeView {
  id: string;
  version: number;
  role: "master" | "slave";
  /** "host:port" of the master it follows, or null. */
  masterAddr: string | null;
  linkUp: boolean;
  syncInProgress: boolean;
  /** RocksDB's latest sequence (the simulator counts single-key writes). */
  sequence: number;
}

/** Reads a node's view of itself (CLUSTERX VERSION / MYID, INFO replication and keyspace). */
export async function nodeView(node: TestNode): Promise<NodeView> {
  // A real replica that was just made to follow a new master loads the master's snapshot
  // first (LOADING); what the test asks about is the node once it serves again.
  for (let waited = 0; ; waited += 100) {
    try {
      return await readNodeView(node);
    } catch (err) {
      if (!/LOADING/.test(String(err)) || waited >= 20_000) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function readNodeView(node: TestNode): Promise<NodeView> {
  const [version, id, replication, keyspace] = await Promise.all([
    node.call("CLUSTERX", "VERSION"),
    node.call("CLUSTERX", "MYID").catch(() => ""),
    node.call("INFO", "replication"),
    node.call("INFO", "keyspace"),
  ]);
  const info = parseReplicationInfo(`${String(replication)}\r\n${String(keyspace)}`);
  return {
    id: String(id),
    version: Number(version),
    role: info.role,
    masterAddr: info.masterHost === null ? null : `${info.masterHost}:${info.masterPort}`,
    linkUp: info.masterLinkUp,
    syncInProgress: info.syncInProgress,
    sequence: info.sequence,
  };
}

/** Whether the node stores `key`, whoever owns its slot (KEYS is not routed in Kvrocks). */
export async function holdsKey(node: TestNode, key: string): Promise<boolean> {
  // Kvrocks's KEYS takes only a prefix pattern.
  const found = (await node.call("KEYS", `${key}*`)) as string[];
  return found.includes(key);
}

/**
 * Writes every key=value on `node` over one connection, pipelined; throws the first error
 * (MOVED when the node does not own a key's slot).
 */
export async function writeKeys(
  node: TestNode,
  entries: Iterable<[string, string]>,
  password?: string,
): Promise<void> {
  const client = new Redis({
    host: node.host,
    port: node.port,
    protocol: 2,
    password: password || undefined,
    maxRetriesPerRequest: 0,
    enableReadyCheck: false,
    retryStrategy: () => null,
  });
  client.on("error", () => {});
  try {
    let batch = client.pipeline();
    let n = 0;
    const flush = async () => {
      const results = (await batch.exec()) ?? [];
      for (const [err] of results) if (err) throw err;
      batch = client.pipeline();
      n = 0;
    };
    for (const [k, v] of entries) {
      batch.set(k, v);
      if (++n === 500) await flush();
    }
    if (n > 0) await flush();
  } finally {
    client.disconnect();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
