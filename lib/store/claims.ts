// An address belongs to at most one node across all clusters. Two things make that hold
// under concurrent writers, whatever the cluster's size:
// - a scan of every stored cluster before a write that adds addresses (it also sees
//   clusters written by upstream's controller, which keeps no claims);
// - one claims document per cluster (its address list) under one prefix. A write that adds
//   addresses commits only if no claims document changed since it read them (one range
//   compare), and writes its own: of two writers adding one address, the second re-reads,
//   scans again, and is refused. A write that adds none compares nothing.
// One put and at most one compare per transaction, so etcd's 128-operation limit does not
// cap a cluster's size. The scan is the truth; a claims document whose cluster is gone (an
// orphan, left when upstream's controller deleted the cluster) only ever causes a retry.
import type { Etcd3, ICompare, IRequestOp } from "etcd3";
import { exists } from "../errors.js";
import { addressesIn } from "./codec.js";
import { type ClusterRef, ownerString, type StoreKeys } from "./keys.js";
import { is, listPrefix, op, prefixRevision } from "./txn.js";

export interface ClaimPlan {
  compare: ICompare[];
  success: IRequestOp[];
}

const emptyPlan: ClaimPlan = { compare: [], success: [] };

const sameRef = (a: ClusterRef, b: ClusterRef) =>
  a.namespace === b.namespace && a.cluster === b.cluster;

/** Every stored cluster that has `addr`, read leniently (see `addressesIn`). */
export async function scanAddressOwners(
  etcd: Etcd3,
  keys: StoreKeys,
  addrs: ReadonlySet<string>,
  skip?: ClusterRef,
): Promise<Map<string, ClusterRef>> {
  const owners = new Map<string, ClusterRef>();
  if (addrs.size === 0) return owners;
  for (const kv of await listPrefix(etcd, keys.metadataPrefix())) {
    const ref = keys.parseClusterKey(kv.key.toString());
    if (!ref || (skip && sameRef(ref, skip))) continue;
    for (const addr of addressesIn(kv.value.toString())) {
      if (addrs.has(addr) && !owners.has(addr)) owners.set(addr, ref);
    }
  }
  return owners;
}

/**
 * The compares and ops that move `owner`'s claims from the addresses it had to the ones it
 * will have. Throws `exists` when an added address is used by another cluster.
 */
export async function planClaims(
  etcd: Etcd3,
  keys: StoreKeys,
  owner: ClusterRef,
  before: readonly string[],
  after: readonly string[],
): Promise<ClaimPlan> {
  const had = new Set(before);
  const will = new Set(after);
  const added = [...will].filter((a) => !had.has(a));
  const removed = [...had].filter((a) => !will.has(a));
  if (added.length === 0 && removed.length === 0) return emptyPlan;

  const doc = keys.claims(owner.namespace, owner.cluster);
  const success = [will.size === 0 ? op.del(doc) : op.put(doc, JSON.stringify([...will].sort()))];
  if (added.length === 0) return { compare: [], success };
  // The revision is read before the scan: a claim written after it fails the commit, and
  // one written before it belongs to a cluster the scan sees.
  const revision = await prefixRevision(etcd, keys.claimsPrefix());
  const taken = await scanAddressOwners(etcd, keys, new Set(added), owner);
  for (const addr of added) {
    const user = taken.get(addr);
    if (user) throw exists(`address ${addr} is already used by ${ownerString(user)}`);
  }
  return { compare: [is.unchangedSince(keys.claimsPrefix(), revision)], success };
}

/** Who uses `addr`: the stored cluster that has it, or null. */
export async function findAddressOwner(
  etcd: Etcd3,
  keys: StoreKeys,
  addr: string,
): Promise<ClusterRef | null> {
  const owners = await scanAddressOwners(etcd, keys, new Set([addr]));
  return owners.get(addr) ?? null;
}
