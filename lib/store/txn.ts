// Raw etcd reads and transactions on full keys. We build compare/op messages by hand
// (instead of etcd3's builders) for range compares ("no key under this prefix") and so
// a lock's fence can be added to any transaction.
import {
  CompareResult,
  CompareTarget,
  type Etcd3,
  type ICompare,
  type IKeyValue,
  type IRangeResponse,
  type IRequestOp,
  type ITxnResponse,
} from "etcd3";
import { conflict, errorMessage } from "../errors.js";
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

/**
 * At most this many keys per range read of a whole prefix (`listPrefix`); after the first
 * page, pages aim at `PAGE_TARGET_BYTES` by the largest key and value seen so far. Every
 * cluster of a large installation (~28k nodes) is far over gRPC's default 4 MiB answer, which
 * one range read used to hit. With etcd's 1.5 MiB value limit a page holds at most 384 MiB,
 * under the client's receive limit (`createEtcd`), so no page is ever refused: a refused
 * answer would also open etcd3's circuit breaker.
 */
export const DEFAULT_PAGE_KEYS = 256;
/**
 * The first page of a read of cluster documents, which can be large (one of 1,000 nodes is
 * ~130 KB): small, so that even the first answer stays near `PAGE_TARGET_BYTES`.
 */
export const CLUSTER_DOCS_FIRST_PAGE_KEYS = 8;
const PAGE_TARGET_BYTES = 2 * 1024 * 1024;

const compacted = /required revision has been compacted/i;

export interface ListOptions {
  keysOnly?: boolean;
  /** Most keys per range read (see `DEFAULT_PAGE_KEYS`); tests use small pages. */
  pageKeys?: number;
  /** Keys of the first page, before any size is known; `pageKeys` by default. */
  firstPageKeys?: number;
}

/**
 * Every key under `prefix`, read page by page at the revision of the first page: one
 * consistent snapshot, as a single range read would be, whatever its size.
 */
export async function listPrefix(
  etcd: Etcd3,
  prefix: string,
  options: ListOptions = {},
): Promise<IKeyValue[]> {
  try {
    return await readPages(etcd, prefix, options);
  } catch (err) {
    // The snapshot's revision was compacted between two pages: read again, once, from now.
    if (!compacted.test(errorMessage(err))) throw toStoreError(err);
    try {
      return await readPages(etcd, prefix, options);
    } catch (again) {
      throw toStoreError(again);
    }
  }
}

async function readPages(etcd: Etcd3, prefix: string, options: ListOptions) {
  const end = prefixEnd(prefix);
  const out: IKeyValue[] = [];
  const most = Math.max(1, Math.floor(options.pageKeys ?? DEFAULT_PAGE_KEYS));
  let pageKeys = Math.max(1, Math.min(most, Math.floor(options.firstPageKeys ?? most)));
  let largest = 1;
  let from = buf(prefix);
  let revision: Revision | undefined;
  for (;;) {
    const res: IRangeResponse = await etcd.kv.range({
      key: from,
      range_end: end,
      keys_only: options.keysOnly ?? false,
      limit: pageKeys,
      ...(revision === undefined ? {} : { revision }),
    });
    revision ??= res.header.revision;
    out.push(...res.kvs);
    const last = res.kvs.at(-1);
    if (!res.more || !last) return out;
    for (const kv of res.kvs) largest = Math.max(largest, kv.key.length + kv.value.length);
    pageKeys = Math.max(1, Math.min(most, Math.floor(PAGE_TARGET_BYTES / largest)));
    // The next page starts just after the last key read: the key with a zero byte appended.
    from = Buffer.concat([last.key, Buffer.from([0])]);
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
