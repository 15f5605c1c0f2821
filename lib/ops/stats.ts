// Live statistics of a cluster's nodes, read from each node's INFO when asked and never
// stored: memory, keys, load and replication lag change every second and belong to the nodes.
import { errorMessage } from "../errors.js";
import { type KvrocksClient, type NodeInfo, withNode } from "../kvrocks/index.js";
import { eachLimited } from "../limit.js";
import type { Cluster, ClusterNode } from "../model/index.js";
import type { ClusterStats, NodeStats } from "../model/stats.js";
import type { Store } from "../store/index.js";
import type { OpsDeps } from "./deps.js";

export { ClusterStats, NodeStats } from "../model/stats.js";

/** Nodes read at once when many clusters are read together (a scrape). */
export const DEFAULT_STATS_CONCURRENCY = 64;

type Read = { ok: true; info: NodeInfo } | { ok: false; error: string };

function readInfo(deps: OpsDeps, node: ClusterNode): Promise<Read> {
  const options = { password: node.password, timeoutMs: deps.nodeTimeoutMs };
  const read = (client: KvrocksClient) => client.info();
  const pending = deps.nodePool
    ? deps.nodePool.use(node.addr, options, read)
    : withNode(node.addr, options, read);
  return pending.then(
    (info): Read => ({ ok: true, info }),
    (err: unknown): Read => ({ ok: false, error: errorMessage(err) }),
  );
}

/** Each shard's replicas against its master; the reads are already done. */
export function nodeStatsFrom(cluster: Cluster, reads: ReadonlyMap<string, Read>): NodeStats[] {
  return cluster.shards.flatMap((shard, index) => {
    const master = shard.nodes.find((n) => n.role === "master");
    const masterRead = master ? reads.get(master.id) : undefined;
    const lagOf = (node: ClusterNode): number | null => {
      const read = reads.get(node.id);
      if (!read?.ok || !masterRead?.ok) return null;
      return Math.max(0, masterRead.info.sequence - read.info.sequence);
    };
    const replicaLags = shard.nodes.filter((n) => n.role !== "master").map(lagOf);
    // The replicas that answered: a dead one shows as down itself, not as an unknown master.
    const known = replicaLags.filter((lag): lag is number => lag !== null);
    const masterLag = replicaLags.length > 0 && known.length === 0 ? null : Math.max(0, ...known);
    return shard.nodes.map((node): NodeStats => {
      const read = reads.get(node.id);
      const base = { id: node.id, addr: node.addr, shard: index, role: node.role };
      if (!read?.ok) {
        return {
          ...base,
          up: false,
          version: null,
          uptime_seconds: null,
          used_memory_bytes: null,
          used_disk_bytes: null,
          keys: null,
          ops_per_sec: null,
          connected_clients: null,
          replication_lag: null,
          error: read?.error ?? "not read",
        };
      }
      const { info } = read;
      return {
        ...base,
        up: true,
        version: info.version,
        uptime_seconds: info.uptimeSeconds,
        used_memory_bytes: info.usedMemoryBytes,
        used_disk_bytes: info.usedDiskBytes,
        keys: info.keys,
        ops_per_sec: info.opsPerSec,
        connected_clients: info.connectedClients,
        replication_lag: node.role === "master" ? masterLag : lagOf(node),
      };
    });
  });
}

/**
 * Every node of every given cluster, at most `concurrency` at a time, each within the node
 * timeout: a dead node holds one lane for one timeout and never the whole read.
 */
export async function readClustersStats(
  deps: OpsDeps,
  clusters: readonly Cluster[],
  concurrency = DEFAULT_STATS_CONCURRENCY,
): Promise<NodeStats[][]> {
  // One map per cluster: the same node id in two clusters (a copied document) stays apart.
  const reads = clusters.map(() => new Map<string, Read>());
  const nodes = clusters.flatMap((c, at) =>
    c.shards.flatMap((s) =>
      s.nodes.map((node) => ({ node, into: reads[at] as Map<string, Read> })),
    ),
  );
  await eachLimited(nodes, concurrency, async ({ node, into }) => {
    into.set(node.id, await readInfo(deps, node));
  });
  return clusters.map((cluster, at) => nodeStatsFrom(cluster, reads[at] as Map<string, Read>));
}

export async function clusterStats(
  deps: OpsDeps & { store: Store },
  ns: string,
  name: string,
): Promise<ClusterStats> {
  const { cluster } = await deps.store.getCluster(ns, name);
  const nodeCount = cluster.shards.reduce((n, s) => n + s.nodes.length, 0);
  // One cluster: every node at once, so the answer takes one node timeout at worst.
  const [nodes] = await readClustersStats(deps, [cluster], Math.max(1, nodeCount));
  return { nodes: nodes ?? [] };
}
