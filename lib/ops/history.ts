// Failover and migration history per cluster: bounded, newest last, readable by any instance.
import { randomBytes } from "node:crypto";
import { invalid } from "../errors.js";
import { FailoverRecord } from "../model/index.js";
import type { Fence, Store } from "../store/index.js";

export const HISTORY_LIMIT = 100;

export const HistoryRecord = FailoverRecord;
export type HistoryRecord = FailoverRecord;

/** Keys sort by time: zero-padded milliseconds, then a random tail against collisions. */
function entryName(at: number): string {
  return `${String(at).padStart(15, "0")}-${randomBytes(3).toString("hex")}`;
}

export async function recordHistory(
  store: Store,
  ns: string,
  cluster: string,
  record: HistoryRecord,
  options: { fence?: Fence; limit?: number } = {},
): Promise<void> {
  await store.putDoc(store.keys.history(ns, cluster, entryName(record.at)), record, {
    expectRevision: "absent",
    fence: options.fence,
  });
  // By key only: keys sort by time, and one unreadable old entry must not block recording.
  const keys = await store.listKeys(store.keys.historyPrefix(ns, cluster));
  const excess = keys.length - (options.limit ?? HISTORY_LIMIT);
  for (const old of keys.slice(0, Math.max(0, excess))) {
    await store.deleteDoc(old, { fence: options.fence });
  }
}

export async function listHistory(
  store: Store,
  ns: string,
  cluster: string,
): Promise<HistoryRecord[]> {
  // The route says which entry is broken rather than answer a history with a hole in it.
  const { docs, corrupt } = await store.listDocsChecked(
    store.keys.historyPrefix(ns, cluster),
    HistoryRecord,
  );
  if (corrupt[0]) throw invalid(corrupt[0].error);
  return docs.map((e) => e.value);
}
