// Namespaces and clusters in etcd. Every read-modify-write is one transaction comparing
// what was read, so any number of controller instances can write at once.
import type { Etcd3, ITxnResponse } from "etcd3";
import type { z } from "zod";
import { errorMessage, exists, forbidden, invalid, notFound } from "../errors.js";
import { allNodes, assertClusterValid, Cluster, ResourceName } from "../model/index.js";
import type { Resolver } from "./addresses.js";
import { type ClaimPlan, findAddressOwner, planClaims } from "./claims.js";
import { toStoreError } from "./client.js";
import { addressesIn, decodeCluster, encodeCluster, nodeIdsIn } from "./codec.js";
import * as docs from "./docs.js";
import { type ClusterRef, DEFAULT_PREFIX, type StoreKeys, storeKeys } from "./keys.js";
import { type Fence, type Lock, tryLock } from "./lock.js";
import { readProbeSeen } from "./ownership.js";
import * as quorum from "./quorum.js";
import {
  backoff,
  casLoop,
  committed,
  DEFAULT_CAS_ATTEMPTS,
  lostRace,
  MAX_CLAIM_RACES,
} from "./retry.js";
import { type RoundReadSchemas, readClusterRounds, type TopologyCache } from "./rounds.js";
import {
  CLUSTER_DOCS_FIRST_PAGE_KEYS,
  commit,
  getKey,
  is,
  type ListOptions,
  listPrefix,
  op,
  type Revision,
  type TxnSpec,
} from "./txn.js";

export interface WriteOptions {
  /** Refuse the write unless this lock is still held. */
  fence?: Fence;
}

export interface UpdateOptions extends WriteOptions {
  /** How many lost races to retry before answering `conflict`; default 5. */
  maxAttempts?: number;
}

export interface StoredCluster {
  cluster: Cluster;
  revision: Revision;
}

export interface ClusterUpdate extends StoredCluster {
  previous: Cluster;
}

export type ReadCluster = ClusterRef & { topology: Cluster | null; error: string | null };

export type ClusterUpdateFn = (cluster: Cluster) => Cluster | Promise<Cluster>;

const addrsOf = (cluster: Cluster) => allNodes(cluster).map((n) => n.addr);

function checkName(kind: string, name: string): void {
  const parsed = ResourceName.safeParse(name);
  if (!parsed.success) {
    throw invalid(
      `${kind} name "${name}" ${parsed.error.issues[0]?.message ?? "is invalid"}`,
      kind,
    );
  }
}

/** Schema, name and invariants of a cluster about to be written; returns it normalized. */
function checkCluster(ns: string, name: string, candidate: Cluster): Cluster {
  let json: unknown;
  try {
    // Round trip through the stored form: exactly what will be read back is checked.
    json = JSON.parse(encodeCluster(candidate));
  } catch (err) {
    throw invalid(`cluster ${ns}/${name}: not a cluster (${errorMessage(err)})`);
  }
  const parsed = Cluster.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(`cluster ${ns}/${name}: ${issue?.path.join(".")}: ${issue?.message}`);
  }
  if (parsed.data.name !== name) {
    throw invalid(`cluster ${ns}/${name} cannot be renamed to ${parsed.data.name}`, "name");
  }
  assertClusterValid(parsed.data);
  return parsed.data;
}

export interface StoreOptions {
  /** Keys per range read of a whole prefix (see `DEFAULT_PAGE_KEYS`); tests use small pages. */
  pageKeys?: number;
  /** How the claims resolve host names (see addresses.ts); the system's by default. */
  resolve?: Resolver;
}

export class Store {
  readonly keys: StoreKeys;

  constructor(
    private readonly etcd: Etcd3,
    prefix = DEFAULT_PREFIX,
    private readonly options: StoreOptions = {},
  ) {
    this.keys = storeKeys(prefix);
  }

  /** A whole prefix, page by page (one snapshot: see `listPrefix`). */
  private list(prefix: string, options: Omit<ListOptions, "pageKeys"> = {}) {
    return listPrefix(this.etcd, prefix, { ...options, pageKeys: this.options.pageKeys });
  }

  /**
   * Commits a write whose claims `plan` builds. Every claims change anywhere fails the claims
   * compare, so writers to different clusters with disjoint addresses lose to one another
   * while nothing is wrong; such a loss (`ownUnchanged` says the write's own keys still hold)
   * is planned again (scan and check again) without counting as a lost race: each one means
   * another writer committed, so the retries end. A true conflict is refused by the check.
   * Any other failure is returned, for the caller's compare-and-swap loop.
   */
  private async commitClaiming(
    plan: () => Promise<ClaimPlan>,
    spec: (claims: ClaimPlan) => TxnSpec,
    ownUnchanged: (res: ITxnResponse) => boolean,
  ): Promise<ITxnResponse> {
    for (let race = 0; ; race++) {
      const claims = await plan();
      const res = await commit(this.etcd, spec(claims));
      if (res.succeeded || claims.compare.length === 0 || race >= MAX_CLAIM_RACES) return res;
      if (!ownUnchanged(res)) return res;
      await backoff(Math.min(race + 1, 6));
    }
  }

  /** Throws `unavailable` unless etcd answers a read. */
  async ping(): Promise<void> {
    try {
      await this.etcd.kv.range({ key: Buffer.from(this.keys.metadataPrefix()), limit: 1 });
    } catch (err) {
      throw toStoreError(err);
    }
  }

  /**
   * Marks a planned switchover of the cluster as under way, for at most `ttlSeconds` if the
   * process dies; null when one already is. Probe rounds leave the cluster's nodes alone
   * while it is held: a push of the new topology to the new master before it has caught up
   * would lose writes.
   */
  beginSwitchover(ns: string, cluster: string, ttlSeconds: number): Promise<Lock | null> {
    return tryLock(this.etcd, this.keys.switchover(ns, cluster), { ttlSeconds });
  }

  async switchoverUnderWay(ns: string, cluster: string): Promise<boolean> {
    return (await getKey(this.etcd, this.keys.switchover(ns, cluster))) !== null;
  }

  // --- namespaces ---

  async listNamespaces(): Promise<string[]> {
    const kvs = await this.list(this.keys.metadataPrefix(), { keysOnly: true });
    return kvs.flatMap((kv) => this.keys.parseNamespaceKey(kv.key.toString()) ?? []);
  }

  async namespaceExists(ns: string): Promise<boolean> {
    return (await getKey(this.etcd, this.keys.namespace(ns))) !== null;
  }

  /** The namespace name; `not_found` if it does not exist. */
  async getNamespace(ns: string): Promise<string> {
    if (!(await this.namespaceExists(ns))) throw notFound(`namespace ${ns} not found`);
    return ns;
  }

  async createNamespace(ns: string, options: WriteOptions = {}): Promise<void> {
    checkName("namespace", ns);
    const key = this.keys.namespace(ns);
    const res = await commit(this.etcd, {
      compare: [is.absent(key)],
      success: [op.put(key, ns)],
      fence: options.fence,
    });
    if (!res.succeeded) throw exists(`namespace ${ns} already exists`);
  }

  /**
   * Deletes an empty namespace. The transaction requires that no cluster key exists
   * under it, and cluster creation requires the namespace key: whichever commits
   * second fails, so no cluster is ever left without its namespace.
   */
  async deleteNamespace(ns: string, options: WriteOptions = {}): Promise<void> {
    const key = this.keys.namespace(ns);
    const res = await commit(this.etcd, {
      compare: [is.present(key), is.emptyPrefix(this.keys.clustersPrefix(ns))],
      success: [op.del(key)],
      failure: [op.get(key)],
      fence: options.fence,
    });
    if (res.succeeded) return;
    if (!res.responses[0]?.response_range?.kvs[0]) throw notFound(`namespace ${ns} not found`);
    throw forbidden(`namespace ${ns} still has clusters; delete them first`);
  }

  // --- clusters ---

  async listClusters(ns: string): Promise<string[]> {
    const [kvs, present] = await Promise.all([
      this.list(this.keys.clustersPrefix(ns), { keysOnly: true }),
      this.namespaceExists(ns),
    ]);
    if (!present && kvs.length === 0) throw notFound(`namespace ${ns} not found`);
    return kvs.flatMap((kv) => this.keys.parseClusterKey(kv.key.toString())?.cluster ?? []);
  }

  /** Every cluster of every namespace. */
  async listAllClusters(): Promise<ClusterRef[]> {
    const kvs = await this.list(this.keys.metadataPrefix(), { keysOnly: true });
    return kvs.flatMap((kv) => this.keys.parseClusterKey(kv.key.toString()) ?? []);
  }

  /**
   * Every cluster in one snapshot (read in pages, see `listPrefix`), for views over all of them (metrics): a cluster whose
   * JSON is bad is reported with its error, never blocking the others.
   */
  async readAllClusters(): Promise<ReadCluster[]> {
    const kvs = await this.list(this.keys.metadataPrefix(), {
      firstPageKeys: CLUSTER_DOCS_FIRST_PAGE_KEYS,
    });
    return kvs.flatMap((kv): ReadCluster[] => {
      const ref = this.keys.parseClusterKey(kv.key.toString());
      if (!ref) return [];
      try {
        return [
          {
            ...ref,
            topology: decodeCluster(ref.namespace, ref.cluster, kv.value.toString()),
            error: null,
          },
        ];
      } catch (err) {
        return [{ ...ref, topology: null, error: errorMessage(err) }];
      }
    });
  }

  /** When each owned cluster's probe owner last finished a round (see `readProbeSeen`). */
  probeSeen(): Promise<Map<string, number | null>> {
    return readProbeSeen(this.etcd, this.keys);
  }

  /** Observer quorum suspicions and votes under `prefix` (see quorum.ts); all by default. */
  readQuorum(prefix = this.keys.quorumPrefix()): Promise<quorum.QuorumEntries> {
    return quorum.readQuorum(this.etcd, prefix);
  }

  putSuspicion(suspicion: quorum.Suspicion, lease: string, fence?: Fence): Promise<void> {
    return quorum.putSuspicion(this.etcd, this.keys, suspicion, lease, fence);
  }

  putVote(vote: quorum.Vote, lease: string): Promise<boolean> {
    return quorum.putVote(this.etcd, this.keys, vote, lease);
  }

  clearSuspicion(ref: ClusterRef, master: string, fence?: Fence): Promise<void> {
    return quorum.clearSuspicion(this.etcd, this.keys, ref, master, fence);
  }

  /** True once a vote is written under `prefix` after `revision`; false after `timeoutMs`. */
  waitForQuorumChange(
    prefix: string,
    revision: Revision,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    return quorum.waitForQuorumChange(this.etcd, prefix, revision, timeoutMs, signal);
  }

  deleteVote(key: string): Promise<void> {
    return quorum.deleteVote(this.etcd, key);
  }

  /**
   * What the probe rounds of `refs` read (topology, probe state, switchover marker, tasks),
   * by `ns/cluster`, in one read-only transaction per 32 clusters (see `readClusterRounds`).
   */
  readClusterRounds<S, T>(
    refs: readonly ClusterRef[],
    schemas: RoundReadSchemas<S, T>,
    cache?: TopologyCache,
  ) {
    return readClusterRounds(this.etcd, this.keys, refs, schemas, cache);
  }

  /** Raw documents under a prefix in one snapshot (read in pages); callers decode with `decodeDoc`. */
  async readPrefix(prefix: string): Promise<{ key: string; value: string }[]> {
    const kvs = await this.list(prefix);
    return kvs.map((kv) => ({ key: kv.key.toString(), value: kv.value.toString() }));
  }

  async getCluster(ns: string, name: string): Promise<StoredCluster> {
    const kv = await getKey(this.etcd, this.keys.cluster(ns, name));
    if (!kv) throw notFound(`cluster ${ns}/${name} not found`);
    return { cluster: decodeCluster(ns, name, kv.value.toString()), revision: kv.mod_revision };
  }

  /** The cluster's document as etcd holds it, undecoded: decode it with `decodeCluster`. */
  async getClusterText(ns: string, name: string): Promise<string> {
    const kv = await getKey(this.etcd, this.keys.cluster(ns, name));
    if (!kv) throw notFound(`cluster ${ns}/${name} not found`);
    return kv.value.toString();
  }

  async createCluster(
    ns: string,
    cluster: Cluster,
    options: UpdateOptions = {},
  ): Promise<StoredCluster> {
    const name = cluster.name;
    const next = checkCluster(ns, name, cluster);
    const nsKey = this.keys.namespace(ns);
    const key = this.keys.cluster(ns, name);
    const owner = { namespace: ns, cluster: name };

    return casLoop(
      `cluster ${ns}/${name}`,
      options.maxAttempts ?? DEFAULT_CAS_ATTEMPTS,
      async () => {
        // Read first to answer precisely; the transaction re-checks all of it atomically.
        const [nsKv, existing] = await Promise.all([
          getKey(this.etcd, nsKey),
          getKey(this.etcd, key),
        ]);
        if (!nsKv) throw notFound(`namespace ${ns} not found`);
        if (existing) throw exists(`cluster ${ns}/${name} already exists`);
        const res = await this.commitClaiming(
          () => planClaims(this.etcd, this.keys, owner, [], addrsOf(next), this.options),
          (claims) => ({
            compare: [is.present(nsKey), is.absent(key), ...claims.compare],
            success: [op.put(key, encodeCluster(next)), ...claims.success],
            failure: [op.get(nsKey), op.get(key)],
            fence: options.fence,
          }),
          (res) =>
            (res.responses[0]?.response_range?.kvs.length ?? 0) > 0 &&
            (res.responses[1]?.response_range?.kvs.length ?? 1) === 0,
        );
        return res.succeeded
          ? committed({ cluster: next, revision: res.header.revision })
          : lostRace;
      },
    );
  }

  /**
   * Read, change with `fn`, validate, compare-and-swap; a lost race re-reads and calls
   * `fn` again. `fn` gets a copy (so `previous` stays intact) and may throw to abort.
   */
  async updateCluster(
    ns: string,
    name: string,
    fn: ClusterUpdateFn,
    options: UpdateOptions = {},
  ): Promise<ClusterUpdate> {
    const key = this.keys.cluster(ns, name);
    const owner = { namespace: ns, cluster: name };

    return casLoop(
      `cluster ${ns}/${name}`,
      options.maxAttempts ?? DEFAULT_CAS_ATTEMPTS,
      async () => {
        const current = await this.getCluster(ns, name);
        const next = checkCluster(ns, name, await fn(structuredClone(current.cluster)));
        const res = await this.commitClaiming(
          () =>
            planClaims(
              this.etcd,
              this.keys,
              owner,
              addrsOf(current.cluster),
              addrsOf(next),
              this.options,
            ),
          (claims) => ({
            compare: [is.modRevision(key, current.revision), ...claims.compare],
            success: [op.put(key, encodeCluster(next)), ...claims.success],
            failure: [op.get(key)],
            fence: options.fence,
          }),
          (res) => res.responses[0]?.response_range?.kvs[0]?.mod_revision === current.revision,
        );
        if (!res.succeeded) return lostRace;
        return committed({
          cluster: next,
          revision: res.header.revision,
          previous: current.cluster,
        });
      },
    );
  }

  /** Deletes the cluster, its state documents and its address claims, atomically. */
  async deleteCluster(ns: string, name: string, options: UpdateOptions = {}): Promise<void> {
    const key = this.keys.cluster(ns, name);
    const owner = { namespace: ns, cluster: name };

    await casLoop(
      `cluster ${ns}/${name}`,
      options.maxAttempts ?? DEFAULT_CAS_ATTEMPTS,
      async () => {
        const kv = await getKey(this.etcd, key);
        if (!kv) throw notFound(`cluster ${ns}/${name} not found`);
        // Lenient read: a cluster whose JSON is broken must still be deletable.
        const claims = await planClaims(
          this.etcd,
          this.keys,
          owner,
          addressesIn(kv.value.toString()),
          [],
          this.options,
        );
        const res = await commit(this.etcd, {
          compare: [is.modRevision(key, kv.mod_revision), ...claims.compare],
          success: [
            op.del(key),
            op.delPrefix(this.keys.clusterStatePrefix(ns, name)),
            // A pending suspicion and its votes would otherwise live as long as their leases.
            op.delPrefix(this.keys.clusterQuorumPrefix(ns, name)),
            ...claims.success,
          ],
          fence: options.fence,
        });
        return res.succeeded ? committed(undefined) : lostRace;
      },
    );
  }

  /** The cluster that uses `addr`, or null. */
  findAddressOwner(addr: string): Promise<ClusterRef | null> {
    return findAddressOwner(this.etcd, this.keys, addr.trim(), this.options);
  }

  /**
   * The stored cluster each of `ids` is a node of (clusters read leniently, as the address
   * claims read them); ids of no stored cluster are left out.
   */
  async findNodeOwners(ids: ReadonlySet<string>): Promise<Map<string, ClusterRef>> {
    const owners = new Map<string, ClusterRef>();
    if (ids.size === 0) return owners;
    const kvs = await this.list(this.keys.metadataPrefix(), {
      firstPageKeys: CLUSTER_DOCS_FIRST_PAGE_KEYS,
    });
    for (const kv of kvs) {
      const ref = this.keys.parseClusterKey(kv.key.toString());
      if (!ref) continue;
      for (const id of nodeIdsIn(kv.value.toString())) {
        if (ids.has(id) && !owners.has(id)) owners.set(id, ref);
      }
    }
    return owners;
  }

  // --- state documents ---

  getDocOrCorrupt<T>(key: string, schema: z.ZodType<T>) {
    return docs.getDocOrCorrupt(this.etcd, key, schema);
  }

  /** Keys under a prefix, sorted, without their values. */
  async listKeys(prefix: string): Promise<string[]> {
    const kvs = await this.list(prefix, { keysOnly: true });
    return kvs.map((kv) => kv.key.toString());
  }

  getDoc<T>(key: string, schema: z.ZodType<T>): Promise<docs.Doc<T> | null> {
    return docs.getDoc(this.etcd, key, schema);
  }

  /** The documents under a prefix that decode; the others are skipped. */
  listDocs<T>(prefix: string, schema: z.ZodType<T>): Promise<(docs.Doc<T> & { key: string })[]> {
    return docs.listDocs(this.etcd, prefix, schema);
  }

  /** Every document under a prefix, those that do not decode reported apart. */
  listDocsChecked<T>(prefix: string, schema: z.ZodType<T>) {
    return docs.listDocsChecked(this.etcd, prefix, schema);
  }

  putDoc(key: string, value: unknown, options: docs.DocWriteOptions = {}): Promise<Revision> {
    return docs.putDoc(this.etcd, key, value, options);
  }

  deleteDoc(key: string, options: docs.DocWriteOptions = {}): Promise<boolean> {
    return docs.deleteDoc(this.etcd, key, options);
  }
}
