// A cluster's health as the probe last recorded it in etcd; no node is contacted.
import {
  type ClusterHealth,
  emptyProbeState,
  type NodeHealthView,
  ProbeState,
} from "../model/index.js";
import type { Store } from "../store/index.js";
import { readTaskDocs } from "./tasks.js";
import { DEFAULT_SAFE_MODE_RATIO, zoneWarnings } from "./zones.js";

export async function clusterHealth(
  store: Store,
  ns: string,
  name: string,
  /** The probe's safe-mode ratio, for the zone warnings. */
  safeModeRatio: number = DEFAULT_SAFE_MODE_RATIO,
): Promise<ClusterHealth> {
  const [{ cluster }, stored, tasks, seen] = await Promise.all([
    store.getCluster(ns, name),
    store.getDocOrCorrupt(store.keys.probeState(ns, name), ProbeState),
    readTaskDocs(store, ns, name),
    store.probeSeen(),
  ]);
  // An unreadable probe state reads as never probed; the next round replaces it.
  const state = stored.doc?.value ?? emptyProbeState();
  // A running invocation does not rewrite a healthy node's `last_ok` each round: its own
  // heartbeat says when it last saw the cluster, and an answering node was fine then.
  const ownerRoundAt = seen.get(`${ns}/${name}`) ?? null;
  const nodes = cluster.shards.flatMap((shard, index) =>
    shard.nodes.map((node): NodeHealthView => {
      const h = state.nodes[node.id];
      const reported = h?.version ?? null;
      return {
        id: node.id,
        addr: node.addr,
        shard: index,
        role: node.role,
        up: !(h?.failures ?? 0),
        probed: h !== undefined,
        failures: h?.failures ?? 0,
        last_ok:
          h && h.failures === 0 && ownerRoundAt !== null
            ? Math.max(h.last_ok ?? 0, ownerRoundAt)
            : (h?.last_ok ?? null),
        last_error: h?.last_error ?? null,
        last_failure: h?.last_failure ?? null,
        unmanageable: h?.unmanageable ?? null,
        reported_version: reported,
        role_seen: h?.role ?? null,
        behind: reported !== null && reported < cluster.version,
        ahead: reported !== null && reported > cluster.version,
        drained: node.drained_at !== undefined,
      };
    }),
  );
  return {
    version: cluster.version,
    safe_mode: state.safe_mode,
    safe_mode_reason: state.safe_mode_reason,
    // A drained node down or behind is the maintenance it was drained for: not counted.
    nodes_behind: nodes.filter((n) => n.behind && !n.drained).length,
    nodes_ahead: nodes.filter((n) => n.ahead).length,
    nodes_down: nodes.filter((n) => !n.up && !n.drained).length,
    nodes_unmanageable: nodes.filter((n) => n.unmanageable !== null).length,
    failover_blocked: state.failover_blocked,
    quorum: Object.entries(state.quorum).map(([master_id, q]) => ({ master_id, ...q })),
    ahead: state.ahead,
    slow_migrations: tasks.tasks
      .filter((d) => d.task.state === "running" && d.task.slow)
      .map((d) => ({
        task: d.task.id,
        range: d.task.in_flight,
        since: d.task.in_flight_started_at,
      })),
    not_converging_migrations: tasks.tasks.flatMap((d) =>
      d.task.state === "running" && d.task.not_converging
        ? [{ task: d.task.id, ...d.task.not_converging }]
        : [],
    ),
    unreadable_documents: [
      ...(stored.corrupt
        ? [{ key: store.keys.probeState(ns, name), error: stored.corrupt.error }]
        : []),
      ...tasks.corrupt.map((c) => ({ key: c.key, error: c.error })),
    ],
    zone_warnings: zoneWarnings(cluster, safeModeRatio),
    nodes,
  };
}
