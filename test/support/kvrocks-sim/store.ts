// The node's keyspace: strings only, keys held as binary ("latin1") strings so any bytes
// survive. Every applied write bumps `sequence` by one, as each single-key write is one
// RocksDB operation; replicas apply the same operations and so reach the same sequence.

import { keySlot } from "./keyslot.js";

export interface Entry {
  value: Buffer;
  /** Unix ms; 0 = no expiry. */
  expireAt: number;
}

export type WriteOp =
  | { kind: "set"; key: string; value: Buffer; expireAt: number }
  | { kind: "del"; key: string };

export interface StoreSnapshot {
  entries: [string, Entry][];
  sequence: number;
}

export const toBinaryKey = (key: string | Buffer): string =>
  (typeof key === "string" ? Buffer.from(key, "utf8") : key).toString("latin1");

export const fromBinaryKey = (key: string): Buffer => Buffer.from(key, "latin1");

export const slotOfBinaryKey = (key: string): number => keySlot(fromBinaryKey(key));

export class Store {
  private readonly data = new Map<string, Entry>();
  sequence = 0;
  /** What DBSIZE and `db0:keys=` report: the result of the last DBSIZE SCAN. */
  cachedKeyCount = { keys: 0, expires: 0 };
  /** Unix seconds of the last DBSIZE SCAN, 0 = never. */
  lastScanTime = 0;
  /** Replication feed: called after each applied write. */
  onWrite: ((op: WriteOp) => void) | null = null;

  get(key: string, now = Date.now()): Entry | undefined {
    const e = this.data.get(key);
    if (e === undefined || (e.expireAt !== 0 && e.expireAt <= now)) return undefined;
    return e;
  }

  apply(op: WriteOp): void {
    if (op.kind === "set") this.data.set(op.key, { value: op.value, expireAt: op.expireAt });
    else this.data.delete(op.key);
    this.sequence++;
    this.onWrite?.(op);
  }

  set(key: string, value: Buffer, expireAt = 0): void {
    this.apply({ kind: "set", key, value, expireAt });
  }

  /** Deleting an absent key writes nothing, as in Kvrocks. */
  del(key: string): boolean {
    if (this.get(key) === undefined) return false;
    this.apply({ kind: "del", key });
    return true;
  }

  /** Live keys in RocksDB order: Kvrocks prefixes each key with its slot in cluster mode. */
  keys(now = Date.now()): string[] {
    const live = [...this.data.keys()].filter((k) => this.get(k, now) !== undefined);
    return live
      .map((k) => ({ k, slot: slotOfBinaryKey(k) }))
      .sort((a, b) => a.slot - b.slot || Buffer.compare(fromBinaryKey(a.k), fromBinaryKey(b.k)))
      .map((x) => x.k);
  }

  entriesInSlots(inRange: (slot: number) => boolean): [string, Entry][] {
    return this.keys()
      .filter((k) => inRange(slotOfBinaryKey(k)))
      .map((k) => [k, this.data.get(k)!]);
  }

  deleteSlots(inRange: (slot: number) => boolean): number {
    const victims = [...this.data.keys()].filter((k) => inRange(slotOfBinaryKey(k)));
    for (const k of victims) this.apply({ kind: "del", key: k });
    return victims.length;
  }

  isEmpty(): boolean {
    return this.keys().length === 0;
  }

  scanKeyCount(now = Date.now()): void {
    const keys = this.keys(now);
    this.cachedKeyCount = {
      keys: keys.length,
      expires: keys.filter((k) => this.data.get(k)!.expireAt !== 0).length,
    };
    this.lastScanTime = Math.floor(now / 1000);
  }

  /** RocksDB's estimate of the metadata column family: every stored key, expired or not. */
  estimatedKeys(): number {
    return this.data.size;
  }

  usedBytes(): number {
    let n = 0;
    for (const [k, e] of this.data) n += k.length + e.value.length;
    return n;
  }

  snapshot(): StoreSnapshot {
    return {
      entries: [...this.data].map(([k, e]) => [k, { ...e }]),
      sequence: this.sequence,
    };
  }

  /** Full sync: the replica's data and sequence become the master's. */
  replaceWith(snap: StoreSnapshot): void {
    this.data.clear();
    for (const [k, e] of snap.entries) this.data.set(k, { ...e });
    this.sequence = snap.sequence;
  }
}
