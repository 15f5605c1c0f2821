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
//
// Addresses are compared as nodes, not as strings (see addresses.ts): `127.1:6379`,
// `localhost:6379` and `127.0.0.1:06379` are one address, whichever spelling was stored.
import type { Etcd3, ICompare, IRequestOp } from "etcd3";
import { exists } from "../errors.js";
import { canonicalAddr } from "../model/index.js";
import { addressKeys, type Resolver, systemResolver } from "./addresses.js";
import { addressesIn } from "./codec.js";
import { type ClusterRef, ownerString, type StoreKeys } from "./keys.js";
import { CLUSTER_DOCS_FIRST_PAGE_KEYS, is, listPrefix, op, prefixRevision } from "./txn.js";

export interface ClaimPlan {
  compare: ICompare[];
  success: IRequestOp[];
}

export interface ClaimOptions {
  /** Keys per range read of the scan (see `DEFAULT_PAGE_KEYS`). */
  pageKeys?: number;
  resolve?: Resolver;
}

const emptyPlan: ClaimPlan = { compare: [], success: [] };

const sameRef = (a: ClusterRef, b: ClusterRef) =>
  a.namespace === b.namespace && a.cluster === b.cluster;

/**
 * Every stored cluster that has `addr` (in any spelling, see addresses.ts), read leniently
 * (see `addressesIn`); keyed by the addresses as given.
 */
export async function scanAddressOwners(
  etcd: Etcd3,
  keys: StoreKeys,
  addrs: ReadonlySet<string>,
  skip?: ClusterRef,
  options: ClaimOptions = {},
): Promise<Map<string, { owner: ClusterRef; stored: string }>> {
  const owners = new Map<string, { owner: ClusterRef; stored: string }>();
  if (addrs.size === 0) return owners;
  const resolve = options.resolve ?? systemResolver;
  const wanted = new Map<string, string>(); // key -> address as given
  for (const [addr, list] of await addressKeys(addrs, resolve)) {
    for (const key of list) if (!wanted.has(key)) wanted.set(key, addr);
  }
  const stored: { ref: ClusterRef; addrs: string[] }[] = [];
  const kvs = await listPrefix(etcd, keys.metadataPrefix(), {
    pageKeys: options.pageKeys,
    firstPageKeys: CLUSTER_DOCS_FIRST_PAGE_KEYS,
  });
  for (const kv of kvs) {
    const ref = keys.parseClusterKey(kv.key.toString());
    if (!ref || (skip && sameRef(ref, skip))) continue;
    stored.push({ ref, addrs: addressesIn(kv.value.toString()) });
  }
  const storedKeys = await addressKeys(
    stored.flatMap((s) => s.addrs),
    resolve,
  );
  for (const { ref, addrs: list } of stored) {
    for (const addr of list) {
      for (const key of storedKeys.get(addr) ?? []) {
        const given = wanted.get(key);
        if (given !== undefined && !owners.has(given))
          owners.set(given, { owner: ref, stored: addr });
      }
    }
  }
  return owners;
}

const describeUse = (addr: string, use: { owner: ClusterRef; stored: string }) =>
  `address ${addr} is already used by ${ownerString(use.owner)}${
    canonicalAddr(use.stored) === canonicalAddr(addr) ? "" : ` (as ${use.stored})`
  }`;

/**
 * The compares and ops that move `owner`'s claims from the addresses it had to the ones it
 * will have. Throws `exists` when an added address is used by another cluster, or is one
 * the cluster already has under another spelling.
 */
export async function planClaims(
  etcd: Etcd3,
  keys: StoreKeys,
  owner: ClusterRef,
  before: readonly string[],
  after: readonly string[],
  options: ClaimOptions = {},
): Promise<ClaimPlan> {
  const had = new Set(before.map(canonicalAddr));
  const will = new Set(after.map(canonicalAddr));
  const added = [...will].filter((a) => !had.has(a));
  const removed = [...had].filter((a) => !will.has(a));
  if (added.length === 0 && removed.length === 0) return emptyPlan;

  const doc = keys.claims(owner.namespace, owner.cluster);
  const success = [will.size === 0 ? op.del(doc) : op.put(doc, JSON.stringify([...will].sort()))];
  if (added.length === 0) return { compare: [], success };
  await assertNoAliasInside(will, added, options.resolve ?? systemResolver);
  // The revision is read before the scan: a claim written after it fails the commit, and
  // one written before it belongs to a cluster the scan sees.
  const revision = await prefixRevision(etcd, keys.claimsPrefix());
  const taken = await scanAddressOwners(etcd, keys, new Set(added), owner, options);
  for (const addr of added) {
    const use = taken.get(addr);
    if (use) throw exists(describeUse(addr, use));
  }
  return { compare: [is.unchangedSince(keys.claimsPrefix(), revision)], success };
}

/** An added address must not be a node the cluster already has under another spelling. */
async function assertNoAliasInside(
  will: ReadonlySet<string>,
  added: readonly string[],
  resolve: Resolver,
): Promise<void> {
  const all = await addressKeys(will, resolve);
  const byKey = new Map<string, string>();
  const addedSet = new Set(added);
  // The addresses kept first: the message names the one the cluster had.
  const order = [...will].sort((a, b) => Number(addedSet.has(a)) - Number(addedSet.has(b)));
  for (const addr of order) {
    for (const key of all.get(addr) ?? []) {
      const other = byKey.get(key);
      if (other !== undefined && other !== addr && addedSet.has(addr)) {
        throw exists(`address ${addr} is the same node as ${other}, already in the cluster`);
      }
      byKey.set(key, addr);
    }
  }
}

/** Who uses `addr` (in any spelling): the stored cluster that has it, or null. */
export async function findAddressOwner(
  etcd: Etcd3,
  keys: StoreKeys,
  addr: string,
  options: ClaimOptions = {},
): Promise<ClusterRef | null> {
  const owners = await scanAddressOwners(etcd, keys, new Set([addr]), undefined, options);
  return owners.get(addr)?.owner ?? null;
}
