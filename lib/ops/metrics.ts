// Cluster metrics derived from etcd at scrape time: handlers keep nothing between requests, so
// every instance answers a scrape with the same numbers.
import type { z } from "zod";
import { errorMessage } from "../errors.js";
import {
  type Cluster,
  emptyProbeState,
  isDrained,
  ProbeState,
  Task,
  TaskState,
} from "../model/index.js";
import { countSlots } from "../slots/index.js";
import { decodeJson, type Store } from "../store/index.js";
import { HistoryRecord } from "./history.js";

export interface ClusterMetrics {
  namespace: string;
  cluster: string;
  version: number;
  shards: number;
  nodesByRole: { master: number; slave: number };
  /** `unmanageable` nodes are also `up`: they answer, with an error reply. */
  nodesByState: { up: number; down: number; unmanageable: number; drained: number };
  nodeFailures: {
    node: string;
    addr: string;
    shard: number;
    failures: number;
    /** The error reply the node answered the probe with, or null (see `NodeHealth`). */
    unmanageable: string | null;
    /** Drained for maintenance: its alerts are silenced (`kvc_node_drained`). */
    drained: boolean;
  }[];
  nodesBehind: number;
  /** Nodes reporting a newer topology version than etcd's. */
  nodesAhead: number;
  slotsByShard: number[];
  migratingSlotsByShard: number[];
  tasksByState: Record<TaskState, number>;
  /** Running tasks whose range in flight is past the migration timeout. */
  slowTasks: number;
  /** Running tasks whose range takes writes faster than it is copied. */
  notConverging: number;
  failovers: number;
  /** Seconds since the probe last recorded a completed round; null before the first. */
  lastRoundAgeSeconds: number | null;
  safeMode: boolean;
}

export interface MetricsSnapshot {
  clusters: ClusterMetrics[];
  /** Clusters whose data could not be read (bad JSON, say): counted, not fatal. */
  unreadable: { namespace: string; cluster: string; error: string }[];
  /** The readable topologies, for whoever reads the nodes next (per-node gauges). */
  topologies: { namespace: string; cluster: Cluster }[];
  /** Task, history and probe documents that do not decode: skipped. */
  unreadableDocs: number;
}

export function clusterMetricsFrom(
  namespace: string,
  cluster: Cluster,
  state: ProbeState,
  tasks: readonly Task[],
  failovers: number,
  now: number,
  /** When the cluster's probe owner last finished a round (its invocation's heartbeat). */
  ownerRoundAt: number | null = null,
): ClusterMetrics {
  // A running invocation refreshes its own heartbeat, not each cluster's state document.
  const lastRoundAt = Math.max(state.last_round?.at ?? -1, ownerRoundAt ?? -1);
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
      unmanageable: nodes.filter((n) => health(n.node.id)?.unmanageable != null).length,
      drained: nodes.filter((n) => isDrained(n.node)).length,
    },
    nodeFailures: nodes.map((n) => ({
      node: n.node.id,
      addr: n.node.addr,
      shard: n.index,
      failures: health(n.node.id)?.failures ?? 0,
      unmanageable: health(n.node.id)?.unmanageable ?? null,
      drained: isDrained(n.node),
    })),
    // A drained node behind is the maintenance it was drained for (it is repaired on return).
    nodesBehind: nodes.filter((n) => {
      if (isDrained(n.node)) return false;
      const version = health(n.node.id)?.version;
      return version !== undefined && version !== null && version < cluster.version;
    }).length,
    nodesAhead: nodes.filter((n) => {
      const version = health(n.node.id)?.version;
      return version !== undefined && version !== null && version > cluster.version;
    }).length,
    slotsByShard: cluster.shards.map((s) => countSlots(s.slot_ranges)),
    migratingSlotsByShard: cluster.shards.map((s) =>
      s.migrating_slot ? countSlots([s.migrating_slot]) : 0,
    ),
    tasksByState,
    slowTasks: tasks.filter((t) => t.state === "running" && t.slow).length,
    notConverging: tasks.filter((t) => t.state === "running" && t.not_converging !== null).length,
    failovers,
    lastRoundAgeSeconds: lastRoundAt >= 0 ? Math.max(0, (now - lastRoundAt) / 1000) : null,
    safeMode: state.safe_mode,
  };
}

/**
 * Four reads whatever the number of clusters (all topologies, all state documents, the probe
 * owners and the live invocations; each one snapshot, in pages of about 2 MiB at most), then
 * grouped in memory: a scrape stays cheap as clusters are added.
 */
export async function collectMetrics(store: Store, now: number): Promise<MetricsSnapshot> {
  const stateRoot = store.keys.stateRoot();
  const [clusters, docs, seen] = await Promise.all([
    store.readAllClusters(),
    store.readPrefix(stateRoot),
    store.probeSeen(),
  ]);
  const snapshot: MetricsSnapshot = {
    clusters: [],
    unreadable: [],
    topologies: [],
    unreadableDocs: 0,
  };
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
      // A document that does not decode is skipped (and counted): one bad task or history
      // entry must not hide the cluster from a scrape.
      const decoded = <T>(doc: { key: string; value: string }, schema: z.ZodType<T>): T[] => {
        try {
          return [decodeJson(doc.key, doc.value, schema)];
        } catch {
          snapshot.unreadableDocs++;
          return [];
        }
      };
      const state = (probeDoc && decoded(probeDoc, ProbeState)[0]) || emptyProbeState();
      const tasks = own
        .filter((d) => d.key.startsWith(`${prefix}tasks/`))
        .flatMap((d) => decoded(d, Task));
      const failovers = own
        .filter((d) => d.key.startsWith(`${prefix}history/`))
        .flatMap((d) => decoded(d, HistoryRecord))
        .filter((h) => h.kind === "failover" && h.outcome === "promoted").length;
      snapshot.clusters.push(
        clusterMetricsFrom(
          namespace,
          ref.topology,
          state,
          tasks,
          failovers,
          now,
          seen.get(`${namespace}/${name}`) ?? null,
        ),
      );
      snapshot.topologies.push({ namespace, cluster: ref.topology });
    } catch (err) {
      snapshot.unreadable.push({ namespace, cluster: name, error: errorMessage(err) });
    }
  }
  snapshot.clusters.sort((a, b) =>
    `${a.namespace}/${a.cluster}`.localeCompare(`${b.namespace}/${b.cluster}`),
  );
  return snapshot;
}
