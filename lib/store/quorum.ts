// The observer quorum in etcd. A cluster's owner that judged a master down records a
// suspicion under its own lease; every other live invocation (a witness) probes that master
// from where it is and records its vote under its own lease. Both vanish with their writer,
// and nothing exists here while all is healthy.
import type { Etcd3 } from "etcd3";
import { z } from "zod";
import { toStoreError } from "./client.js";
import { decodeJson } from "./codec.js";
import type { ClusterRef, StoreKeys } from "./keys.js";
import type { Fence } from "./lock.js";
import { commit, is, op, prefixEnd, type Revision } from "./txn.js";

export const Suspicion = z.object({
  namespace: z.string(),
  cluster: z.string(),
  master_id: z.string(),
  master_addr: z.string(),
  shard: z.number().int().nonnegative(),
  /** When the owner first recorded it. */
  since: z.number(),
  /** The owner's observer name: its own judgement is the first vote. */
  observer: z.string(),
});
export type Suspicion = z.infer<typeof Suspicion>;

export const Vote = z.object({
  namespace: z.string(),
  cluster: z.string(),
  master_id: z.string(),
  observer: z.string(),
  verdict: z.enum(["down", "up"]),
  /** When the witness reached its verdict, by its own clock. */
  at: z.number(),
  error: z.string().nullable(),
});
export type Vote = z.infer<typeof Vote>;

export interface QuorumEntries {
  suspicions: (Suspicion & { key: string; lease: string })[];
  votes: (Vote & { key: string; lease: string })[];
  /** The store's revision at the read: `waitForQuorumChange` waits for anything after it. */
  revision: Revision;
}

/**
 * Suspicions and votes under `prefix` (`quorumPrefix()` for all, `masterQuorumPrefix` for
 * one master) in one range read. An entry that does not decode is left out: it vanishes with
 * its writer's lease.
 */
export async function readQuorum(etcd: Etcd3, prefix: string): Promise<QuorumEntries> {
  let res: Awaited<ReturnType<Etcd3["kv"]["range"]>>;
  try {
    res = await etcd.kv.range({ key: Buffer.from(prefix), range_end: prefixEnd(prefix) });
  } catch (err) {
    throw toStoreError(err);
  }
  const out: QuorumEntries = { suspicions: [], votes: [], revision: res.header.revision };
  for (const kv of res.kvs) {
    const key = kv.key.toString();
    try {
      if (key.endsWith("/suspicion"))
        out.suspicions.push({
          ...decodeJson(key, kv.value.toString(), Suspicion),
          key,
          lease: kv.lease,
        });
      else if (key.includes("/votes/"))
        out.votes.push({ ...decodeJson(key, kv.value.toString(), Vote), key, lease: kv.lease });
    } catch {
      // skipped, as the doc comment says
    }
  }
  return out;
}

/** The owner records (or takes over) a suspicion under its lease; fenced like its round. */
export async function putSuspicion(
  etcd: Etcd3,
  keys: StoreKeys,
  suspicion: Suspicion,
  lease: string,
  fence: Fence | undefined,
): Promise<void> {
  const key = keys.suspicion(suspicion.namespace, suspicion.cluster, suspicion.master_id);
  const res = await commit(etcd, {
    compare: [],
    success: [op.put(key, JSON.stringify(suspicion), lease)],
    fence,
  });
  if (!res.succeeded) throw new Error(`suspicion ${key} not written`);
}

/**
 * A witness's vote, under its own lease, written only while the suspicion it answers still
 * stands: false when the suspicion is gone (the master answered or was failed over).
 */
export async function putVote(
  etcd: Etcd3,
  keys: StoreKeys,
  vote: Vote,
  lease: string,
): Promise<boolean> {
  const suspicion = keys.suspicion(vote.namespace, vote.cluster, vote.master_id);
  const res = await commit(etcd, {
    compare: [is.present(suspicion)],
    success: [
      op.put(
        keys.vote(vote.namespace, vote.cluster, vote.master_id, lease),
        JSON.stringify(vote),
        lease,
      ),
    ],
  });
  return res.succeeded;
}

/** Removes a master's suspicion and every vote on it; fenced by the cluster's owner. */
export async function clearSuspicion(
  etcd: Etcd3,
  keys: StoreKeys,
  ref: ClusterRef,
  master: string,
  fence: Fence | undefined,
): Promise<void> {
  await commit(etcd, {
    compare: [],
    success: [op.delPrefix(keys.masterQuorumPrefix(ref.namespace, ref.cluster, master))],
    fence,
  });
}

/** A witness removes its own vote once the suspicion it answered is gone. */
export async function deleteVote(etcd: Etcd3, key: string): Promise<void> {
  await commit(etcd, { compare: [], success: [op.del(key)] });
}

/**
 * Waits (an etcd watch) until a vote is written under `prefix` after `revision`, at most
 * `timeoutMs`; true when one was. Never throws: a watch that cannot start waits nothing.
 */
export async function waitForQuorumChange(
  etcd: Etcd3,
  prefix: string,
  revision: Revision,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  let watcher: Awaited<ReturnType<ReturnType<Etcd3["watch"]>["create"]>> | undefined;
  let settled = false;
  try {
    return await new Promise<boolean>((settle) => {
      const resolve = (changed: boolean) => {
        settled = true;
        settle(changed);
      };
      timer = setTimeout(() => resolve(false), timeoutMs);
      onAbort = () => resolve(false);
      signal?.addEventListener("abort", onAbort, { once: true });
      etcd
        .watch()
        .prefix(prefix)
        .startRevision(String(BigInt(revision) + 1n))
        .create()
        .then((w) => {
          // Started after the wait was over: nobody listens any more.
          if (settled) {
            w.cancel().catch(() => undefined);
            return;
          }
          watcher = w;
          w.on("put", (kv) => {
            if (kv.key.toString().includes("/votes/")) resolve(true);
          });
          w.on("error", () => resolve(false));
        })
        .catch(() => resolve(false));
    });
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
    // Cancelled in the background: the answer does not wait for etcd to confirm it.
    watcher?.cancel().catch(() => undefined);
  }
}
