// Raw etcd reads and transactions on full keys. We build compare/op messages by hand
// (instead of etcd3's builders) for range compares ("no key under this prefix") and so
// a lock's fence can be added to any transaction.
import {
  CompareResult,
  CompareTarget,
  type Etcd3,
  type ICompare,
  type IKeyValue,
  type IRequestOp,
  type ITxnResponse,
} from "etcd3";
import { conflict } from "../errors.js";
import { toStoreError } from "./client.js";
import type { Fence } from "./lock.js";

/** An etcd mod_revision, as the decimal string etcd3 hands out for int64s. */
export type Revision = string;

const buf = (key: string) => Buffer.from(key);

/** The end of the key range holding exactly the keys that start with `prefix`. */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // all 0xff: to the end of the keyspace
}

export const is = {
  present: (key: string): ICompare => ({
    key: buf(key),
    target: CompareTarget.Version,
    result: CompareResult.Greater,
    version: 0,
  }),
  absent: (key: string): ICompare => ({
    key: buf(key),
    target: CompareTarget.Create,
    result: CompareResult.Equal,
    create_revision: 0,
  }),
  /** etcd compares every key in the range; an empty range compares as a missing key. */
  emptyPrefix: (prefix: string): ICompare => ({
    key: buf(prefix),
    range_end: prefixEnd(prefix),
    target: CompareTarget.Create,
    result: CompareResult.Equal,
    create_revision: 0,
  }),
  modRevision: (key: string, revision: Revision): ICompare => ({
    key: buf(key),
    target: CompareTarget.Mod,
    result: CompareResult.Equal,
    mod_revision: revision,
  }),
  /** No key under `prefix` was created or changed after `revision` (deletions pass). */
  unchangedSince: (prefix: string, revision: Revision): ICompare => ({
    key: buf(prefix),
    range_end: prefixEnd(prefix),
    target: CompareTarget.Mod,
    result: CompareResult.Less,
    mod_revision: String(BigInt(revision) + 1n),
  }),
  leasedBy: (key: string, lease: string): ICompare => ({
    key: buf(key),
    target: CompareTarget.Lease,
    result: CompareResult.Equal,
    lease,
  }),
};

export const op = {
  put: (key: string, value: string, lease?: string): IRequestOp => ({
    request_put: { key: buf(key), value: Buffer.from(value), ...(lease ? { lease } : {}) },
  }),
  del: (key: string): IRequestOp => ({ request_delete_range: { key: buf(key) } }),
  delPrefix: (prefix: string): IRequestOp => ({
    request_delete_range: { key: buf(prefix), range_end: prefixEnd(prefix) },
  }),
  get: (key: string): IRequestOp => ({ request_range: { key: buf(key) } }),
};

export interface TxnSpec {
  compare: ICompare[];
  success: IRequestOp[];
  failure?: IRequestOp[];
  fence?: Fence | undefined;
}

/**
 * Runs one transaction. With a fence, a failed transaction whose fence no longer holds
 * throws `conflict` at once: the lock is gone, so retrying can never succeed.
 */
export async function commit(etcd: Etcd3, spec: TxnSpec): Promise<ITxnResponse> {
  const { fence } = spec;
  const compare = fence ? [...spec.compare, is.leasedBy(fence.key, fence.lease)] : spec.compare;
  const failure = fence ? [...(spec.failure ?? []), op.get(fence.key)] : (spec.failure ?? []);
  let res: ITxnResponse;
  try {
    res = await etcd.kv.txn({ compare, success: spec.success, failure });
  } catch (err) {
    throw toStoreError(err);
  }
  if (!res.succeeded && fence) {
    const fenceKv = res.responses.at(-1)?.response_range?.kvs[0];
    if (!fenceKv || fenceKv.lease !== fence.lease) {
      throw conflict(`write refused: lock ${fence.key} is no longer held`);
    }
  }
  return res;
}

export async function getKey(etcd: Etcd3, key: string): Promise<IKeyValue | null> {
  try {
    const res = await etcd.kv.range({ key: buf(key) });
    return res.kvs[0] ?? null;
  } catch (err) {
    throw toStoreError(err);
  }
}

export async function listPrefix(
  etcd: Etcd3,
  prefix: string,
  options: { keysOnly?: boolean } = {},
): Promise<IKeyValue[]> {
  try {
    const res = await etcd.kv.range({
      key: buf(prefix),
      range_end: prefixEnd(prefix),
      keys_only: options.keysOnly ?? false,
    });
    return res.kvs;
  } catch (err) {
    throw toStoreError(err);
  }
}

/** The store's current revision, as seen by a read of `prefix` (nothing is transferred). */
export async function prefixRevision(etcd: Etcd3, prefix: string): Promise<Revision> {
  try {
    const res = await etcd.kv.range({
      key: buf(prefix),
      range_end: prefixEnd(prefix),
      count_only: true,
    });
    return res.header.revision;
  } catch (err) {
    throw toStoreError(err);
  }
}
