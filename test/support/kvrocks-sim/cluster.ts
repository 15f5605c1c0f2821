// A node's view of the cluster, after Kvrocks's Cluster class: topology version, node
// records, slot owners, slots migrated away or imported, the CLUSTERX changes and the
// routing check of key commands. Checks run in Kvrocks's order so the first error matches.
// What CLUSTER INFO / NODES / SLOTS print lives in cluster-views.ts.

import { networkInterfaces } from "node:os";
import { CommandError, errorOf } from "./errors.js";
import { keySlot, SLOT_COUNT } from "./keyslot.js";
import type { KvrocksNode } from "./node.js";
import type { Session } from "./session.js";
import {
  isValidRange,
  rangeContains,
  rangesOverlap,
  type SlotRange,
  sameRange,
} from "./slot-range.js";
import { type ClusterNode, isNodeIdLength, iterationOrder, parseClusterNodes } from "./topology.js";

export type ImportState = "start" | "success" | "failed";

/** What Kvrocks writes to nodes.conf: reloaded when the node restarts. */
export interface PersistedTopology {
  version: number;
  myid: string;
  nodesText: string;
}

export class Cluster {
  version = -1;
  myid = "";
  myself: ClusterNode | null = null;
  nodes = new Map<string, ClusterNode>();
  readonly slotOwners: (ClusterNode | null)[] = new Array(SLOT_COUNT).fill(null);
  /** slot -> "ip:port" of the node it was migrated to, until the next SETNODES. */
  readonly migratedSlots = new Map<number, string>();
  readonly importedSlots = new Set<number>();
  size = 0;

  constructor(private readonly node: KvrocksNode) {}

  // ---- CLUSTERX ----

  setNodeId(id: string): void {
    if (!isNodeIdLength(id)) throw errorOf("Invalid cluster node id");
    this.myid = id;
    const me = this.version >= 0 ? this.nodes.get(id) : undefined;
    this.myself = me ?? null;
    if (this.myself) this.setMasterSlaveRepl();
  }

  setClusterNodes(text: string, version: number, force: boolean): void {
    if (version < 0) throw errorOf("Invalid cluster version");
    if (!force) {
      if (this.version > version) throw errorOf("Invalid cluster version");
      // Same version: nothing to do, and the text is not even parsed.
      if (this.version === version) return;
    }
    const parsed = parseClusterNodes(text);

    this.version = version;
    this.nodes = parsed.nodes;
    this.size = 0;
    // Slots the text leaves out keep their previous owner record (as Kvrocks does).
    for (const [slot, id] of parsed.slotOwners) this.slotOwners[slot] = this.nodes.get(id)!;
    for (const n of iterationOrder(this.nodes)) {
      if (n.role === "slave") this.nodes.get(n.masterId)?.replicas.push(n.id);
      if (n.role === "master" && n.slots.size > 0) this.size++;
    }

    if (this.myid === "" || force) {
      const me = iterationOrder(this.nodes).find(
        (n) => n.port === this.node.config.port && this.matchesListeningIp(n.host),
      );
      if (me) this.myid = me.id;
    }
    this.myself = (this.myid !== "" && this.nodes.get(this.myid)) || null;
    if (this.myself) this.setMasterSlaveRepl();

    if (this.migratedSlots.size > 0) {
      const gone = new Set(
        [...this.migratedSlots.keys()].filter((s) => this.slotOwners[s] !== this.myself),
      );
      this.node.store.deleteSlots((s) => gone.has(s));
    }
    this.migratedSlots.clear();
    this.importedSlots.clear();
  }

  /** CLUSTERX SETSLOT: the version must be exactly current + 1. */
  setSlotRanges(ranges: SlotRange[], nodeId: string, newVersion: number): void {
    if (newVersion <= 0 || newVersion !== this.version + 1) {
      throw errorOf("Invalid cluster version");
    }
    if (!isNodeIdLength(nodeId)) throw errorOf("Invalid cluster node id");
    const target = this.nodes.get(nodeId);
    if (!target) throw errorOf("No this node in the cluster");
    if (target.role !== "master") throw errorOf("The node isn't a master");

    this.version = newVersion;
    for (const r of ranges) {
      for (let slot = r.start; slot <= r.end; slot++) {
        const old = this.slotOwners[slot] ?? null;
        old?.slots.delete(slot);
        target.slots.add(slot);
        this.slotOwners[slot] = target;
        if (old === this.myself && old !== target) {
          if (this.migratedSlots.has(slot)) {
            this.node.store.deleteSlots((s) => s === slot);
            this.migratedSlots.delete(slot);
          }
          this.importedSlots.delete(slot);
        }
      }
    }
  }

  /** CLUSTERX MIGRATE checks, then hands over to the migrator. */
  checkMigrate(range: SlotRange, dstId: string): ClusterNode {
    const dst = this.nodes.get(dstId);
    if (!dst) throw errorOf("Can't find the destination node id");
    if (!isValidRange(range)) throw errorOf("Slot range is invalid");
    if (this.migratedSlots.size > 0) {
      const slots = [...this.migratedSlots.keys()];
      const span = { start: Math.min(...slots), end: Math.max(...slots) };
      if (rangesOverlap(range, span)) throw errorOf("Can't migrate slot which has been migrated");
    }
    for (let slot = range.start; slot <= range.end; slot++) {
      if (this.slotOwners[slot] !== this.myself) {
        throw errorOf("Can't migrate slot which doesn't belong to me");
      }
    }
    if (this.isNotMaster()) throw errorOf("Slave can't migrate slot");
    if (dst.role !== "master") throw errorOf("Can't migrate slot to a slave");
    if (dst === this.myself) throw errorOf("Can't migrate slot to myself");
    return dst;
  }

  /** CLUSTER IMPORT, sent by a migrating source over its link to this node. */
  importSlotRange(range: SlotRange, state: ImportState, session: Session): void {
    if (this.isNotMaster()) throw errorOf("Slave can't import slot");
    if (!isValidRange(range)) throw errorOf("Slot range is invalid");
    for (let slot = range.start; slot <= range.end; slot++) {
      if (this.slotOwners[slot]?.id === this.myid) {
        throw errorOf("Can't import slot which belongs to me");
      }
    }
    const importer = this.node.importer;
    if (state === "start") {
      importer.start(range);
      session.importing = true;
      this.myself!.importingRange = range;
      session.onClose = () => importer.stopForLinkError();
      const migrator = this.node.migrator;
      if (sameRange(range, migrator.forbiddenRange)) migrator.releaseForbiddenRange();
    } else if (state === "success") {
      importer.success(range);
    } else {
      importer.fail(range);
    }
  }

  setSlotRangeMigrated(range: SlotRange, ipPort: string): void {
    for (let s = range.start; s <= range.end; s++) this.migratedSlots.set(s, ipPort);
  }

  setSlotRangeImported(range: SlotRange): void {
    for (let s = range.start; s <= range.end; s++) this.importedSlots.add(s);
  }

  reset(): void {
    if (isValidRange(this.node.migrator.slotRange)) {
      throw errorOf("Can't reset cluster while migrating slot");
    }
    if (isValidRange(this.node.importer.activeRange())) {
      throw errorOf("Can't reset cluster while importing slot");
    }
    if (!this.node.store.isEmpty())
      throw errorOf("Can't reset cluster while database is not empty");
    if (this.node.isSlave()) this.node.removeMaster();
    this.version = -1;
    this.size = 0;
    this.myid = "";
    this.myself = null;
    this.nodes = new Map();
    this.slotOwners.fill(null);
    this.migratedSlots.clear();
    this.importedSlots.clear();
  }

  isNotMaster(): boolean {
    return this.myself === null || this.myself.role !== "master" || this.node.isSlave();
  }

  // ---- routing of key commands ----

  /** Kvrocks's CanExecByMySelf: throws MOVED / CLUSTERDOWN / CROSSSLOT / TRYAGAIN. */
  checkKeyAccess(keys: Buffer[], isWrite: boolean, session: Session): void {
    if (keys.length === 0) return;
    const slot = keySlot(keys[0]!);
    for (const k of keys) {
      if (keySlot(k) !== slot) {
        throw new CommandError(
          "CROSSSLOT",
          "Attempted to access keys that don't hash to the same slot",
        );
      }
    }
    const owner = this.slotOwners[slot] ?? null;
    if (owner === null) throw new CommandError("CLUSTERDOWN", "Hash slot not served");
    const me = this.myself;
    if (me && me === owner) {
      const movedTo = this.migratedSlots.get(slot);
      if (movedTo !== undefined) throw new CommandError("MOVED", `${slot} ${movedTo}`);
      if (isWrite && rangeContains(this.node.migrator.forbiddenRange, slot)) {
        throw new CommandError(
          "TRYAGAIN",
          "Can't write to slot being migrated which is in write forbidden phase",
        );
      }
      return;
    }
    if (me && rangeContains(me.importingRange, slot) && (session.importing || session.asking)) {
      return;
    }
    if (me && this.importedSlots.has(slot)) return;
    if (
      me &&
      me.role === "slave" &&
      !isWrite &&
      this.nodes.get(me.masterId) === owner &&
      session.readonly
    ) {
      return;
    }
    throw new CommandError("MOVED", `${slot} ${owner.host}:${owner.port}`);
  }

  private setMasterSlaveRepl(): void {
    const me = this.myself;
    if (!me) return;
    if (me.role === "master") {
      this.node.removeMaster();
      return;
    }
    const master = this.nodes.get(me.masterId);
    if (master) this.node.addMaster(master.host, master.port);
  }

  private matchesListeningIp(host: string): boolean {
    const bind = this.node.config.host;
    if (host === bind) return true;
    if (bind !== "0.0.0.0" && bind !== "::") return false;
    return Object.values(networkInterfaces())
      .flat()
      .some((i) => i?.address === host);
  }
}
