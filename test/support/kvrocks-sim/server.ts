// The test-facing handle: a simulated Kvrocks node listening on a TCP port, with the
// lifecycle of a real process (stop keeps the data, start comes back on the same port)
// and fault knobs.

import { createServer, type Server } from "node:net";
import { Connection } from "./connection.js";
import type { Faults } from "./faults.js";
import { KVROCKS_VERSION } from "./info.js";
import { KvrocksNode, type NodeConfig } from "./node.js";
import { registerNode, unregisterNode } from "./registry.js";
import { newSession } from "./session.js";
import { formatRange } from "./slot-range.js";
import { fromBinaryKey, toBinaryKey } from "./store.js";

export interface SimNodeOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** requirepass; unset = no password. */
  password?: string;
  clusterEnabled?: boolean;
  migrationDelayMs?: number;
  migrationFailDelayMs?: number;
  /** The release `INFO server` reports (default 2.10.1): an old one, to test version checks. */
  kvrocksVersion?: string;
  /**
   * Model Kvrocks 2.10.1's replica stop (default false: promotions answer at once): once its
   * master died, a replica's replication thread sleeps 1 s, then retries the master once a
   * second with uninterruptible sleeps, and the SETNODES that promotes it answers only after
   * that thread stopped: at the next whole second after the death, ≈ 70 ms later.
   */
  replicaStopSleeps?: boolean;
}

export interface SimNodeState {
  running: boolean;
  /** CLUSTERX MYID ("" before SETNODEID / auto-detection). */
  id: string;
  /** Topology version, -1 before any SETNODES. */
  version: number;
  role: "master" | "slave";
  /** "host:port" this node replicates from, null on a master. */
  masterAddr: string | null;
  /** Replica only: whether the link to the master is up. */
  linkUp: boolean;
  sequence: number;
  /** Live keys and values, decoded as UTF-8. */
  data: Map<string, string>;
  migration: { range: string; state: string; dst: string };
  importing: string;
}

const all = new Set<SimNode>();

export class SimNode {
  /** The simulated process, for tests that need to look deeper than `state`. */
  readonly kvrocks: KvrocksNode;
  private server: Server | null = null;
  private readonly conns = new Set<Connection>();
  private hangWaiters: (() => void)[] = [];
  private closed = false;

  private constructor(config: NodeConfig) {
    this.kvrocks = new KvrocksNode(config);
  }

  static async create(opts: SimNodeOptions = {}): Promise<SimNode> {
    const host = opts.host ?? "127.0.0.1";
    const server = createServer();
    const port = await listen(server, opts.port ?? 0, host);
    const sim = new SimNode({
      host,
      port,
      password: opts.password ?? "",
      clusterEnabled: opts.clusterEnabled ?? true,
      migrationDelayMs: opts.migrationDelayMs ?? 50,
      migrationFailDelayMs: opts.migrationFailDelayMs ?? 300,
      kvrocksVersion: opts.kvrocksVersion ?? KVROCKS_VERSION,
      replicaStopSleeps: opts.replicaStopSleeps ?? false,
    });
    all.add(sim);
    registerNode(sim.kvrocks);
    sim.attach(server);
    sim.kvrocks.boot();
    return sim;
  }

  get host(): string {
    return this.kvrocks.config.host;
  }

  get port(): number {
    return this.kvrocks.config.port;
  }

  get addr(): string {
    return `${this.host}:${this.port}`;
  }

  get running(): boolean {
    return this.kvrocks.running;
  }

  get faults(): Readonly<Faults> {
    return this.kvrocks.faults;
  }

  get state(): SimNodeState {
    const k = this.kvrocks;
    const data = new Map<string, string>();
    for (const key of k.store.keys()) {
      data.set(fromBinaryKey(key).toString("utf8"), k.store.get(key)!.value.toString("utf8"));
    }
    return {
      running: k.running,
      id: k.cluster.myid,
      version: k.cluster.version,
      role: k.isSlave() ? "slave" : "master",
      masterAddr: k.isSlave() ? `${k.repl.masterHost}:${k.repl.masterPort}` : null,
      linkUp: k.repl.attachedTo !== null,
      sequence: k.store.sequence,
      data,
      migration: {
        range: formatRange(k.migrator.slotRange),
        state: k.migrator.state,
        dst: k.migrator.dstNode,
      },
      importing: formatRange(k.importer.activeRange()),
    };
  }

  /** Listen again on the same port; the node restarts with its data and nodes.conf. */
  async start(): Promise<void> {
    if (this.closed) throw new Error(`sim node ${this.addr} was closed`);
    if (this.server) return;
    const server = createServer();
    await listen(server, this.port, this.host);
    this.attach(server);
    this.kvrocks.boot();
  }

  /** Like killing the process: listener and connections close, data stays. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    this.kvrocks.halt();
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    this.releaseHung();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Stop for good and leave the registry (the address may be reused). */
  async close(): Promise<void> {
    await this.stop();
    this.closed = true;
    unregisterNode(this.kvrocks);
    all.delete(this);
  }

  setFault(f: Partial<Faults>): void {
    this.kvrocks.setFaults(f);
    if (!this.kvrocks.faults.hang) this.releaseHung();
  }

  /** A client SET on this node (routing and replica checks included); throws its error. */
  write(key: string, value: string): void {
    this.command(["SET", key, value]);
  }

  /** A client GET; undefined for a missing key. */
  read(key: string): string | undefined {
    const e = this.kvrocks.store.get(toBinaryKey(key));
    return e?.value.toString("utf8");
  }

  private command(args: string[]): void {
    if (!this.kvrocks.running) throw new Error(`sim node ${this.addr} is stopped`);
    const session = newSession();
    if (this.kvrocks.config.password !== "") {
      session.authenticated = true;
      session.admin = true;
    }
    const err = this.kvrocks.executeInternal(session, args);
    if (err !== null) throw new Error(err);
  }

  private attach(server: Server): void {
    this.server = server;
    server.on("connection", (socket) => {
      socket.setNoDelay(true);
      // Kvrocks at `maxclients` answers the connection itself with an error and closes it,
      // before reading anything (a request already sent makes the close a reset).
      const max = Number(this.kvrocks.settings.get("maxclients") ?? "10240");
      if (this.kvrocks.connectedClients >= max) {
        socket.on("error", () => {});
        socket.end("-ERR max number of clients reached\r\n", () => socket.destroy());
        return;
      }
      const conn = new Connection(this.kvrocks, socket, () => this.whileHung());
      this.conns.add(conn);
      socket.on("close", () => this.conns.delete(conn));
    });
  }

  private whileHung(): Promise<void> {
    if (!this.kvrocks.faults.hang || !this.kvrocks.running) return Promise.resolve();
    return new Promise((resolve) => this.hangWaiters.push(resolve));
  }

  private releaseHung(): void {
    const waiters = this.hangWaiters;
    this.hangWaiters = [];
    for (const w of waiters) w();
  }
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const addr = server.address();
      if (addr === null || typeof addr === "string") reject(new Error("no TCP address"));
      else resolve(addr.port);
    });
  });
}

export const startSimNode = (opts?: SimNodeOptions): Promise<SimNode> => SimNode.create(opts);

/** `n` nodes; with `opts.port`, on consecutive ports from it. */
export async function startSimNodes(n: number, opts: SimNodeOptions = {}): Promise<SimNode[]> {
  const out: SimNode[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await startSimNode({ ...opts, port: opts.port ? opts.port + i : 0 }));
  }
  return out;
}

/** Close every node this process started. */
export async function stopAll(): Promise<void> {
  await Promise.all([...all].map((s) => s.close()));
}

export type { Faults, MigrationOutcome } from "./faults.js";
