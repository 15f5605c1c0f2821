// Generic JSON documents (probe state, tasks, history) with compare-and-swap writes.
import type { Etcd3, IKeyValue } from "etcd3";
import type { z } from "zod";
import { conflict } from "../errors.js";
import { decodeJson } from "./codec.js";
import type { Fence } from "./lock.js";
import { commit, getKey, is, listPrefix, op, type Revision } from "./txn.js";

export interface Doc<T> {
  value: T;
  revision: Revision;
}

export interface DocWriteOptions {
  /** Write only if the document is at this revision, or (`"absent"`) does not exist. */
  expectRevision?: Revision | "absent";
  fence?: Fence;
}

export async function getDoc<T>(
  etcd: Etcd3,
  key: string,
  schema: z.ZodType<T>,
): Promise<Doc<T> | null> {
  const kv = await getKey(etcd, key);
  if (!kv) return null;
  return {
    value: decodeJson(`document ${key}`, kv.value.toString(), schema),
    revision: kv.mod_revision,
  };
}

/**
 * Like `getDoc`, but a document that no longer decodes is reported instead of thrown, with its
 * revision, so its owner can replace it (a corrupt probe state must not stop failover).
 */
export async function getDocOrCorrupt<T>(
  etcd: Etcd3,
  key: string,
  schema: z.ZodType<T>,
): Promise<DocOrCorrupt<T>> {
  return decodeDocOrCorrupt(await getKey(etcd, key), schema);
}

export interface DocOrCorrupt<T> {
  doc: Doc<T> | null;
  corrupt: { revision: Revision; error: string } | null;
}

/** One read key (or none) as `getDocOrCorrupt` answers it. */
export function decodeDocOrCorrupt<T>(kv: IKeyValue | null, schema: z.ZodType<T>): DocOrCorrupt<T> {
  if (!kv) return { doc: null, corrupt: null };
  const key = kv.key.toString();
  try {
    return {
      doc: {
        value: decodeJson(`document ${key}`, kv.value.toString(), schema),
        revision: kv.mod_revision,
      },
      corrupt: null,
    };
  } catch (err) {
    return { doc: null, corrupt: { revision: kv.mod_revision, error: (err as Error).message } };
  }
}

export interface CorruptDoc {
  key: string;
  revision: Revision;
  error: string;
}

/**
 * Every document under a prefix; one that does not decode (written by hand, or by a newer
 * version) is reported in `corrupt` and left out, never thrown: it must not stop the
 * round that reads its neighbours.
 */
export async function listDocsChecked<T>(
  etcd: Etcd3,
  prefix: string,
  schema: z.ZodType<T>,
): Promise<DocsChecked<T>> {
  return decodeDocsChecked(await listPrefix(etcd, prefix), schema);
}

export interface DocsChecked<T> {
  docs: (Doc<T> & { key: string })[];
  corrupt: CorruptDoc[];
}

/** Read keys as `listDocsChecked` answers them. */
export function decodeDocsChecked<T>(
  kvs: readonly IKeyValue[],
  schema: z.ZodType<T>,
): DocsChecked<T> {
  const docs: (Doc<T> & { key: string })[] = [];
  const corrupt: CorruptDoc[] = [];
  for (const kv of kvs) {
    const key = kv.key.toString();
    try {
      const value = decodeJson(`document ${key}`, kv.value.toString(), schema);
      docs.push({ key, value, revision: kv.mod_revision });
    } catch (err) {
      corrupt.push({ key, revision: kv.mod_revision, error: (err as Error).message });
    }
  }
  return { docs, corrupt };
}

/** The documents under a prefix that decode (see `listDocsChecked` for the others). */
export async function listDocs<T>(
  etcd: Etcd3,
  prefix: string,
  schema: z.ZodType<T>,
): Promise<(Doc<T> & { key: string })[]> {
  return (await listDocsChecked(etcd, prefix, schema)).docs;
}

function expectation(key: string, expect: DocWriteOptions["expectRevision"]) {
  if (expect === undefined) return [];
  return [expect === "absent" ? is.absent(key) : is.modRevision(key, expect)];
}

function lost(key: string, expect: DocWriteOptions["expectRevision"]) {
  return expect === "absent"
    ? conflict(`document ${key} already exists`)
    : conflict(`document ${key} is no longer at revision ${expect}`);
}

/** Writes the document; returns its new revision. */
export async function putDoc(
  etcd: Etcd3,
  key: string,
  value: unknown,
  options: DocWriteOptions = {},
): Promise<Revision> {
  const res = await commit(etcd, {
    compare: expectation(key, options.expectRevision),
    success: [op.put(key, JSON.stringify(value))],
    fence: options.fence,
  });
  if (!res.succeeded) throw lost(key, options.expectRevision);
  return res.header.revision;
}

/** Deletes the document; false when there was none. */
export async function deleteDoc(
  etcd: Etcd3,
  key: string,
  options: DocWriteOptions = {},
): Promise<boolean> {
  const res = await commit(etcd, {
    compare: expectation(key, options.expectRevision),
    success: [op.del(key)],
    fence: options.fence,
  });
  if (!res.succeeded) throw lost(key, options.expectRevision);
  return Number(res.responses[0]?.response_delete_range?.deleted ?? 0) > 0;
}
