// One simulated Kvrocks process: its keyspace (which survives restarts, like the data
// directory), its cluster view (reloaded from the persisted nodes.conf on restart), and
// what lives only in memory (migration and import jobs, replication links, DBSIZE cache).

import { Cluster, type PersistedTopology } from "./cluster.js";
import { dumpNodesText } from "./cluster-views.js";
import type { Reply } from "./commands/types.js";
import { dispatch } from "./dispatch.js";
import { defaultFaults, type Faults } from "./faults.js";
import { SlotMigrator } from "./migration.js";
import { propagate, reconcileReplication } from "./replication.js";
import type { Session } from "./session.js";
import { SlotImport } from "./slot-import.js";
import { Store } from "./store.js";

export interface NodeConfig {
  host: string;
  port: number;
  /** requirepass; "" = none. */
  password: string;
  clusterEnabled: boolean;
  /** Time a successful migration takes. */
  migrationDelayMs: number;
  /** Time before a migration to an unreachable target is reported failed. */
  migrationFailDelayMs: number;
  /** What `INFO server` reports as `version` / `kvrocks_version`. */
  kvrocksVersion: string;
  /**
   * Kvrocks 2.10's replica stop (`SimNodeOptions.replicaStopSleeps`): a SETNODES promoting a
   * replica whose master died answers at the next whole second after the death.
   */
  replicaStopSleeps: boolean;
}

export interface NodeStats {
  connectionsReceived: number;
  commandsProcessed: number;
  calls: Map<string, number>;
  inBytes: number;
  outBytes: number;
  keyspaceHits: number;
  keyspaceMisses: number;
  syncFull: number;
  /** When recent commands ran: `instantaneous_ops_per_sec` counts those of the last second. */
  recentCommands: number[];
}

const newStats = (): NodeStats => ({
  connectionsReceived: 0,
  commandsProcessed: 0,
  calls: new Map(),
  inBytes: 0,
  outBytes: 0,
  keyspaceHits: 0,
  keyspaceMisses: 0,
  syncFull: 0,
  recentCommands: [],
});

export interface ReplicaLink {
  /** SLAVEOF target; "" when this node is a master. */
  masterHost: string;
  masterPort: number;
  /** The master this node currently receives from (link up), if any. */
  attachedTo: KvrocksNode | null;
  attachedBootId: number;
  lastIoMs: number;
  /** When the link went down because the master died (its connection hit EOF); null otherwise. */
  lostAt: number | null;
}

let boots = 0;

/** One SLOWLOG entry: every argument as the client sent it, AUTH's password included. */
export interface SlowlogEntry {
  id: number;
  unixSeconds: number;
  micros: number;
  args: string[];
}

export class KvrocksNode {
  readonly store = new Store();
  cluster: Cluster;
  migrator: SlotMigrator;
  importer: SlotImport;
  faults: Faults = defaultFaults();
  running = false;
  /** Changes on every start: a peer holding a link to an older run sees it broken. */
  bootId = 0;
  startedAt = Date.now();
  stats: NodeStats = newStats();
  /** Replicas attached to this node right now. */
  replicas: KvrocksNode[] = [];
  readonly repl: ReplicaLink = {
    masterHost: "",
    masterPort: 0,
    attachedTo: null,
    attachedBootId: 0,
    lastIoMs: 0,
    lostAt: null,
  };
  connectedClients = 0;
  private persisted: PersistedTopology | null = null;

  /** Values changed with CONFIG SET (the simulator's few settings). */
  readonly settings = new Map<string, string>();
  /** SLOWLOG: newest first, as Kvrocks keeps it (slowlog-max-len 128). */
  readonly slowlog: { nextId: number; entries: SlowlogEntry[] } = { nextId: 0, entries: [] };

  constructor(readonly config: NodeConfig) {
    this.store.onWrite = (op) => propagate(this, op);
    this.cluster = new Cluster(this);
    this.migrator = new SlotMigrator(this);
    this.importer = new SlotImport(this);
  }

  /** Process start: fresh memory, topology reloaded from nodes.conf, replication resumed. */
  boot(): void {
    this.bootId = ++boots;
    this.startedAt = Date.now();
    this.stats = newStats();
    this.replicas = [];
    this.repl.masterHost = "";
    this.repl.masterPort = 0;
    this.repl.attachedTo = null;
    this.repl.lostAt = null;
    this.store.cachedKeyCount = { keys: 0, expires: 0 };
    this.store.lastScanTime = 0;
    this.cluster = new Cluster(this);
    this.migrator = new SlotMigrator(this);
    this.importer = new SlotImport(this);
    this.running = true;
    const saved = this.persisted;
    if (saved && this.config.clusterEnabled) {
      this.cluster.myid = saved.myid;
      if (saved.version >= 0) this.cluster.setClusterNodes(saved.nodesText, saved.version, false);
    }
    reconcileReplication();
  }

  /** Process exit: jobs die, links drop. The keyspace and nodes.conf stay. */
  halt(): void {
    this.running = false;
    this.migrator.abandon();
    this.connectedClients = 0;
    reconcileReplication();
  }

  /** After a successful SETNODES / SETNODEID / SETSLOT, as Kvrocks rewrites nodes.conf. */
  persistTopology(remove = false): void {
    this.persisted = remove
      ? null
      : {
          version: this.cluster.version,
          myid: this.cluster.myid,
          nodesText: dumpNodesText(this),
        };
  }

  isSlave(): boolean {
    return this.repl.masterHost !== "";
  }

  isLoading(): boolean {
    return this.faults.loading;
  }

  /** Whether another node (replica, migrating source) gets answers from this one. */
  servesPeers(): boolean {
    return this.running && !this.faults.hang && !this.faults.reset && !this.faults.garbage;
  }

  addMaster(host: string, port: number): void {
    if (this.repl.masterHost === host && this.repl.masterPort === port) return;
    this.repl.masterHost = host;
    this.repl.masterPort = port;
    this.repl.lastIoMs = Date.now();
    reconcileReplication();
  }

  removeMaster(): void {
    if (this.repl.masterHost === "") return;
    this.repl.masterHost = "";
    this.repl.masterPort = 0;
    this.repl.lostAt = null;
    reconcileReplication();
  }

  setFaults(f: Partial<Faults>): void {
    this.faults = { ...this.faults, ...f };
    reconcileReplication();
  }

  execute(session: Session, args: Buffer[]): Reply {
    return dispatch(this, session, args);
  }

  /** A command from a peer's internal link; returns the error text or null on success. */
  executeInternal(session: Session, args: string[]): string | null {
    const reply = this.execute(
      session,
      args.map((a) => Buffer.from(a)),
    );
    if (reply instanceof Promise) return "unexpected blocking reply";
    return reply[0] === 0x2d /* '-' */ ? reply.subarray(1).toString().trimEnd() : null;
  }
}
