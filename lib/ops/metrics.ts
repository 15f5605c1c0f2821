// Cluster metrics derived from etcd at scrape time: handlers keep nothing between requests, so
// every instance answers a scrape with the same numbers.
import { errorMessage } from "../errors.js";
import { type Cluster, emptyProbeState, ProbeState, Task, TaskState } from "../model/index.js";
import { countSlots } from "../slots/index.js";
import { decodeJson, type Store } from "../store/index.js";
import { HistoryRecord } from "./history.js";

export interface ClusterMetrics {
  namespace: string;
  cluster: string;
  version: number;
  shards: number;
  nodesByRole: { master: number; slave: number };
  nodesByState: { up: number; down: number };
  nodeFailures: { node: string; addr: string; shard: number; failures: number }[];
  nodesBehind: number;
  slotsByShard: number[];
  migratingSlotsByShard: number[];
  tasksByState: Record<TaskState, number>;
  failovers: number;
  /** Seconds since the probe last recorded a completed round; null before the first. */
  lastRoundAgeSeconds: number | null;
  safeMode: boolean;
}

export interface MetricsSnapshot {
  clusters: ClusterMetrics[];
  /** Clusters whose data could not be read (bad JSON, say): counted, not fatal. */
  unreadable: { namespace: string; cluster: string; error: string }[];
}

export function clusterMetricsFrom(
  namespace: string,
  cluster: Cluster,
  state: ProbeState,
  tasks: readonly Task[],
  failovers: number,
  now: number,
): ClusterMetrics {
  const nodes = cluster.shards.flatMap((shard, index) =>
    shard.nodes.map((node) => ({ node, index })),
  );
  const health = (id: string) => state.nodes[id];
  const tasksByState = Object.fromEntries(TaskState.options.map((s) => [s, 0])) as Record<
    TaskState,
    number
  >;
  for (const task of tasks) tasksByState[task.state]++;
  return {
    namespace,
    cluster: cluster.name,
    version: cluster.version,
    shards: cluster.shards.length,
    nodesByRole: {
      master: nodes.filter((n) => n.node.role === "master").length,
      slave: nodes.filter((n) => n.node.role === "slave").length,
    },
    nodesByState: {
      up: nodes.filter((n) => !health(n.node.id)?.failures).length,
      down: nodes.filter((n) => (health(n.node.id)?.failures ?? 0) > 0).length,
    },
    nodeFailures: nodes.map((n) => ({
      node: n.node.id,
      addr: n.node.addr,
      shard: n.index,
      failures: health(n.node.id)?.failures ?? 0,
    })),
    nodesBehind: nodes.filter((n) => {
      const version = health(n.node.id)?.version;
      return version !== undefined && version !== null && version < cluster.version;
    }).length,
    slotsByShard: cluster.shards.map((s) => countSlots(s.slot_ranges)),
    migratingSlotsByShard: cluster.shards.map((s) =>
      s.migrating_slot ? countSlots([s.migrating_slot]) : 0,
    ),
    tasksByState,
    failovers,
    lastRoundAgeSeconds: state.last_round ? Math.max(0, (now - state.last_round.at) / 1000) : null,
    safeMode: state.safe_mode,
  };
}

/**
 * Two range reads whatever the number of clusters (all topologies, all state documents), then
 * grouped in memory: a scrape stays cheap as clusters are added.
 */
export async function collectMetrics(store: Store, now: number): Promise<MetricsSnapshot> {
  const stateRoot = store.keys.stateRoot();
  const [clusters, docs] = await Promise.all([
    store.readAllClusters(),
    store.readPrefix(stateRoot),
  ]);
  const snapshot: MetricsSnapshot = { clusters: [], unreadable: [] };
  const byCluster = new Map<string, { key: string; value: string }[]>();
  for (const doc of docs) {
    const rest = doc.key.slice(stateRoot.length).split("/");
    const id = `${rest[0]}/${rest[1]}`;
    byCluster.set(id, [...(byCluster.get(id) ?? []), doc]);
  }
  for (const ref of clusters) {
    const { namespace, cluster: name } = ref;
    try {
      if (!ref.topology) throw new Error(ref.error ?? "unreadable");
      const prefix = store.keys.clusterStatePrefix(namespace, name);
      const own = byCluster.get(`${namespace}/${name}`) ?? [];
      const probeDoc = own.find((d) => d.key === store.keys.probeState(namespace, name));
      const state = probeDoc
        ? decodeJson(probeDoc.key, probeDoc.value, ProbeState)
        : emptyProbeState();
      const tasks = own
        .filter((d) => d.key.startsWith(`${prefix}tasks/`))
        .map((d) => decodeJson(d.key, d.value, Task));
      const failovers = own
        .filter((d) => d.key.startsWith(`${prefix}history/`))
        .map((d) => decodeJson(d.key, d.value, HistoryRecord))
        .filter((h) => h.kind === "failover" && h.outcome === "promoted").length;
      snapshot.clusters.push(
        clusterMetricsFrom(namespace, ref.topology, state, tasks, failovers, now),
      );
    } catch (err) {
      snapshot.unreadable.push({ namespace, cluster: name, error: errorMessage(err) });
    }
  }
  snapshot.clusters.sort((a, b) =>
    `${a.namespace}/${a.cluster}`.localeCompare(`${b.namespace}/${b.cluster}`),
  );
  return snapshot;
}
