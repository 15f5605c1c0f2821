// Probe ownership in etcd. Each probe invocation holds one lease; its registry entry and one
// ownership key per cluster it probes hang off that lease. Holding a cluster's key is the
// fence of every write made for that cluster, and the lease's end (revoked on exit, expired
// after a crash) releases everything at once. A healthy round only reads these keys.
import type { Etcd3 } from "etcd3";
import { z } from "zod";
import { errorMessage } from "../errors.js";
import { decodeJson } from "./codec.js";
import { type ClusterRef, ownerString, type StoreKeys } from "./keys.js";
import type { Fence } from "./lock.js";
import { commit, is, listPrefix, op } from "./txn.js";

export const InvocationRecord = z.object({
  id: z.string(),
  /** Where it probes from (`KVC_PROBE_OBSERVER`, default the host name). */
  observer: z.string(),
  started_at: z.number(),
  /** When it last finished a round; refreshed at most once a heartbeat (one write a minute). */
  last_round_at: z.number().nullable(),
});
export type InvocationRecord = z.infer<typeof InvocationRecord>;

/** A live invocation: its record and the lease its keys hang off. */
export interface Member extends InvocationRecord {
  lease: string;
}

/** Who holds a cluster's ownership key. */
export interface Owner {
  invocation: string;
  lease: string;
}

export function ownershipFence(keys: StoreKeys, ref: ClusterRef, lease: string): Fence {
  return { key: keys.probeLock(ref.namespace, ref.cluster), lease };
}

/** Every registered invocation; an unreadable entry is skipped (it expires with its lease). */
export async function listMembers(etcd: Etcd3, keys: StoreKeys): Promise<Member[]> {
  const kvs = await listPrefix(etcd, keys.probeInvocationsPrefix());
  return kvs.flatMap((kv) => {
    try {
      const record = decodeJson(kv.key.toString(), kv.value.toString(), InvocationRecord);
      return [{ ...record, lease: kv.lease }];
    } catch {
      return [];
    }
  });
}

/** The holder of every cluster's ownership key, by `ns/cluster`. */
export async function listOwners(etcd: Etcd3, keys: StoreKeys): Promise<Map<string, Owner>> {
  const kvs = await listPrefix(etcd, keys.probeLocksPrefix());
  const owners = new Map<string, Owner>();
  for (const kv of kvs) {
    const ref = keys.parseProbeLockKey(kv.key.toString());
    if (ref) owners.set(ownerString(ref), { invocation: kv.value.toString(), lease: kv.lease });
  }
  return owners;
}

/** Writes (or refreshes) an invocation's registry entry under its lease. */
export async function putMember(
  etcd: Etcd3,
  keys: StoreKeys,
  record: InvocationRecord,
  lease: string,
): Promise<void> {
  await commit(etcd, {
    compare: [],
    success: [op.put(keys.probeInvocation(record.id), JSON.stringify(record), lease)],
  });
}

/** Takes an unowned cluster; false when someone holds it. */
export async function claimOwnership(
  etcd: Etcd3,
  keys: StoreKeys,
  ref: ClusterRef,
  invocation: string,
  lease: string,
): Promise<boolean> {
  const key = keys.probeLock(ref.namespace, ref.cluster);
  const res = await commit(etcd, {
    compare: [is.absent(key)],
    success: [op.put(key, invocation, lease)],
  });
  return res.succeeded;
}

/**
 * Moves a cluster this lease holds to another invocation's lease in one transaction, so the
 * cluster is never unowned in between. False (and still ours) when the key is not ours any
 * more or the other lease is gone.
 */
export async function handOverOwnership(
  etcd: Etcd3,
  keys: StoreKeys,
  ref: ClusterRef,
  fromLease: string,
  to: Owner,
): Promise<{ ok: boolean; error: string | null }> {
  const key = keys.probeLock(ref.namespace, ref.cluster);
  try {
    const res = await commit(etcd, {
      compare: [is.leasedBy(key, fromLease)],
      success: [op.put(key, to.invocation, to.lease)],
    });
    return { ok: res.succeeded, error: res.succeeded ? null : "no longer ours" };
  } catch (err) {
    // etcd refuses a put to a lease that expired meanwhile: the whole transaction is void.
    return { ok: false, error: errorMessage(err) };
  }
}

/**
 * When each owned cluster's owner last finished a round, by `ns/cluster`: the age behind
 * `kvc_probe_last_round_age_seconds` without a per-cluster heartbeat. Two range reads.
 */
export async function readProbeSeen(
  etcd: Etcd3,
  keys: StoreKeys,
): Promise<Map<string, number | null>> {
  const [members, owners] = await Promise.all([listMembers(etcd, keys), listOwners(etcd, keys)]);
  const byLease = new Map(members.map((m) => [m.lease, m]));
  const seen = new Map<string, number | null>();
  for (const [cluster, owner] of owners) {
    const member = byLease.get(owner.lease);
    if (member) seen.set(cluster, member.last_round_at);
  }
  return seen;
}
