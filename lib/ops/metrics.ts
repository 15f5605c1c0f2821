// Cluster metrics derived from etcd at scrape time: handlers keep nothing between requests, so
// every instance answers a scrape with the same numbers.
import { errorMessage } from "../errors.js";
import { type Cluster, emptyProbeState, ProbeState, type Task, TaskState } from "../model/index.js";
import { countSlots } from "../slots/index.js";
import type { Store } from "../store/index.js";
import { listHistory } from "./history.js";
import { listTasks } from "./tasks.js";

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

export async function collectMetrics(store: Store, now: number): Promise<MetricsSnapshot> {
  const refs = await store.listAllClusters();
  const snapshot: MetricsSnapshot = { clusters: [], unreadable: [] };
  await Promise.all(
    refs.map(async ({ namespace, cluster: name }) => {
      try {
        const [{ cluster }, state, tasks, history] = await Promise.all([
          store.getCluster(namespace, name),
          store.getDoc(store.keys.probeState(namespace, name), ProbeState),
          listTasks(store, namespace, name),
          listHistory(store, namespace, name),
        ]);
        const failovers = history.filter((h) => h.kind === "failover").length;
        snapshot.clusters.push(
          clusterMetricsFrom(
            namespace,
            cluster,
            state?.value ?? emptyProbeState(),
            tasks,
            failovers,
            now,
          ),
        );
      } catch (err) {
        snapshot.unreadable.push({ namespace, cluster: name, error: errorMessage(err) });
      }
    }),
  );
  snapshot.clusters.sort((a, b) =>
    `${a.namespace}/${a.cluster}`.localeCompare(`${b.namespace}/${b.cluster}`),
  );
  return snapshot;
}
