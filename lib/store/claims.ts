// An address belongs to at most one node across all clusters. Two checks make that hold
// under concurrent writers: a scan of every stored cluster (which also sees clusters
// written by upstream's controller, which keeps no claims), and a claim key per address
// written in the same transaction as the cluster, so two writers adding one address
// cannot both commit.
import type { Etcd3, ICompare, IKeyValue, IRequestOp } from "etcd3";
import { exists } from "../errors.js";
import { addressesIn } from "./codec.js";
import { type ClusterRef, ownerString, parseOwner, type StoreKeys } from "./keys.js";
import { getKey, is, listPrefix, op } from "./txn.js";

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

  const me = ownerString(owner);
  // Claims are read before the scan: a claim that the scan then cannot explain is stale.
  const claims = await readClaims(etcd, keys, [...added, ...removed]);
  const taken = await scanAddressOwners(etcd, keys, new Set(added), owner);
  const plan: ClaimPlan = { compare: [], success: [] };

  for (const addr of added) {
    const user = taken.get(addr);
    if (user) throw addressTaken(addr, user);
    const key = keys.addrClaim(addr);
    const claim = claims.get(addr);
    // No cluster has this address, so an existing claim is stale (left by a cluster that
    // upstream's controller changed): take it over, unless it changes meanwhile.
    plan.compare.push(claim ? is.modRevision(key, claim.mod_revision) : is.absent(key));
    plan.success.push(op.put(key, me));
  }
  for (const addr of removed) {
    const claim = claims.get(addr);
    if (!claim || claim.value.toString() !== me) continue; // not ours to release
    const key = keys.addrClaim(addr);
    plan.compare.push(is.modRevision(key, claim.mod_revision));
    plan.success.push(op.del(key));
  }
  return plan;
}

async function readClaims(
  etcd: Etcd3,
  keys: StoreKeys,
  addrs: string[],
): Promise<Map<string, IKeyValue>> {
  const found = await Promise.all(addrs.map((addr) => getKey(etcd, keys.addrClaim(addr))));
  const claims = new Map<string, IKeyValue>();
  addrs.forEach((addr, i) => {
    const kv = found[i];
    if (kv) claims.set(addr, kv);
  });
  return claims;
}

function addressTaken(addr: string, user: ClusterRef) {
  return exists(`address ${addr} is already used by ${ownerString(user)}`);
}

/** Who uses `addr`: its claim if the claimed cluster really has it, else a full scan. */
export async function findAddressOwner(
  etcd: Etcd3,
  keys: StoreKeys,
  addr: string,
): Promise<ClusterRef | null> {
  const claim = await getKey(etcd, keys.addrClaim(addr));
  const claimed = claim ? parseOwner(claim.value.toString()) : null;
  if (claimed) {
    const cluster = await getKey(etcd, keys.cluster(claimed.namespace, claimed.cluster));
    if (cluster && addressesIn(cluster.value.toString()).includes(addr)) return claimed;
  }
  const owners = await scanAddressOwners(etcd, keys, new Set([addr]));
  return owners.get(addr) ?? null;
}
