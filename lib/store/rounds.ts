// What one probe round of a cluster reads from etcd (its topology, probe state, switchover
// marker and tasks), read for many clusters in a few read-only transactions instead of four
// round trips per cluster. One transaction is one snapshot, so a cluster's topology and its
// switchover marker are seen at the same revision; every write made from what was read stays
// a compare-and-swap on the revision read, so a read that went stale just loses its race.
import type { Etcd3, IKeyValue, IRequestOp } from "etcd3";
import type { z } from "zod";
import { errorMessage } from "../errors.js";
import type { Cluster } from "../model/index.js";
import { toStoreError } from "./client.js";
import { decodeCluster } from "./codec.js";
import {
  type DocOrCorrupt,
  type DocsChecked,
  decodeDocOrCorrupt,
  decodeDocsChecked,
} from "./docs.js";
import { type ClusterRef, ownerString, type StoreKeys } from "./keys.js";
import { op, prefixEnd, type Revision } from "./txn.js";

/**
 * etcd's default `--max-txn-ops`: a transaction with more operations is refused. Four per
 * cluster, so 32 clusters a transaction.
 */
export const MAX_TXN_OPS = 128;
const OPS_PER_CLUSTER = 4;
export const CLUSTERS_PER_READ = Math.floor(MAX_TXN_OPS / OPS_PER_CLUSTER);

export interface ClusterRoundRead<S, T> {
  ref: ClusterRef;
  /** The topology as `Store.getCluster` reads it; null with `error` when it does not decode. */
  cluster: { cluster: Cluster; revision: Revision } | null;
  /** Why there is no topology: the cluster is gone, or its document does not decode. */
  error: { kind: "not_found" | "invalid"; message: string } | null;
  state: DocOrCorrupt<S>;
  switchover: boolean;
  tasks: DocsChecked<T>;
}

/**
 * Decoded topologies by key, kept while their revision holds: a healthy round re-reads every
 * topology, and decoding (JSON and schema) an unchanged one again is most of what it costs.
 * Callers treat a topology as immutable (updates go through a copy), so sharing is safe.
 */
export class TopologyCache {
  private readonly byKey = new Map<string, { revision: Revision; cluster: Cluster }>();
  private readonly used = new Set<string>();

  decode(ref: ClusterRef, kv: IKeyValue): Cluster {
    const key = kv.key.toString();
    this.used.add(key);
    const hit = this.byKey.get(key);
    if (hit && hit.revision === kv.mod_revision) return hit.cluster;
    const cluster = deepFreeze(decodeCluster(ref.namespace, ref.cluster, kv.value.toString()));
    this.byKey.set(key, { revision: kv.mod_revision, cluster });
    return cluster;
  }

  /** Forgets the topologies not read since the previous call (clusters deleted or handed on). */
  sweep(): void {
    for (const key of this.byKey.keys()) if (!this.used.has(key)) this.byKey.delete(key);
    this.used.clear();
  }
}

/** Shared between rounds, so nothing may change it: a change would throw, not spread. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export interface RoundReadSchemas<S, T> {
  state: z.ZodType<S>;
  task: z.ZodType<T>;
}

/** The round inputs of `refs`, by `ns/cluster`, in ⌈refs / 32⌉ read-only transactions. */
export async function readClusterRounds<S, T>(
  etcd: Etcd3,
  keys: StoreKeys,
  refs: readonly ClusterRef[],
  schemas: RoundReadSchemas<S, T>,
  cache?: TopologyCache,
): Promise<Map<string, ClusterRoundRead<S, T>>> {
  const chunks: ClusterRef[][] = [];
  for (let i = 0; i < refs.length; i += CLUSTERS_PER_READ)
    chunks.push(refs.slice(i, i + CLUSTERS_PER_READ));
  const out = new Map<string, ClusterRoundRead<S, T>>();
  await Promise.all(
    chunks.map(async (chunk) => {
      for (const read of await readChunk(etcd, keys, chunk, schemas, cache))
        out.set(ownerString(read.ref), read);
    }),
  );
  return out;
}

const range = (prefix: string): IRequestOp => ({
  request_range: { key: Buffer.from(prefix), range_end: prefixEnd(prefix) },
});

async function readChunk<S, T>(
  etcd: Etcd3,
  keys: StoreKeys,
  refs: readonly ClusterRef[],
  schemas: RoundReadSchemas<S, T>,
  cache: TopologyCache | undefined,
): Promise<ClusterRoundRead<S, T>[]> {
  const success = refs.flatMap(({ namespace: ns, cluster }) => [
    op.get(keys.cluster(ns, cluster)),
    op.get(keys.probeState(ns, cluster)),
    op.get(keys.switchover(ns, cluster)),
    range(keys.tasksPrefix(ns, cluster)),
  ]);
  let responses: { response_range?: { kvs: IKeyValue[] } }[];
  try {
    // No compare, reads only: etcd serves it as one linearizable read, no raft proposal.
    responses = (await etcd.kv.txn({ compare: [], success, failure: [] })).responses;
  } catch (err) {
    throw toStoreError(err);
  }
  const kvsAt = (i: number) => responses[i]?.response_range?.kvs ?? [];
  return refs.map((ref, c) => {
    const at = c * OPS_PER_CLUSTER;
    const clusterKv = kvsAt(at)[0] ?? null;
    let cluster: ClusterRoundRead<S, T>["cluster"] = null;
    let error: ClusterRoundRead<S, T>["error"] = null;
    if (!clusterKv) {
      error = { kind: "not_found", message: `cluster ${ref.namespace}/${ref.cluster} not found` };
    } else {
      try {
        cluster = {
          cluster: cache
            ? cache.decode(ref, clusterKv)
            : decodeCluster(ref.namespace, ref.cluster, clusterKv.value.toString()),
          revision: clusterKv.mod_revision,
        };
      } catch (err) {
        error = { kind: "invalid", message: errorMessage(err) };
      }
    }
    return {
      ref,
      cluster,
      error,
      state: decodeDocOrCorrupt(kvsAt(at + 1)[0] ?? null, schemas.state),
      switchover: kvsAt(at + 2).length > 0,
      tasks: decodeDocsChecked(kvsAt(at + 3), schemas.task),
    };
  });
}
