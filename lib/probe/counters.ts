// Failure counters, pure: what the probe state becomes after one round of observations.
import { allNodes, type Cluster, type NodeHealth, type ProbeState } from "../model/index.js";
import { type Observation, roleSeen } from "./observe.js";

export interface CounterSettings {
  failures: number;
  intervalMs: number;
  /** Refresh `last_ok` of a healthy node at most this often: a healthy round writes nothing. */
  heartbeatMs: number;
}

export function nextNodeHealth(
  previous: NodeHealth | undefined,
  observation: Observation,
  now: number,
  settings: CounterSettings,
): NodeHealth {
  const role = roleSeen(observation) ?? previous?.role ?? null;
  if (observation.alive) {
    const stale = previous?.last_ok == null || now - previous.last_ok >= settings.heartbeatMs;
    const recovered = (previous?.failures ?? 0) > 0;
    return {
      addr: observation.node.addr,
      failures: 0,
      counted_at: null,
      down: false,
      last_ok: stale || recovered ? now : (previous?.last_ok ?? now),
      // Kept after recovery: the last thing that went wrong is what an operator asks about.
      last_error: observation.unmanageable ?? previous?.last_error ?? null,
      last_failure: previous?.last_failure ?? null,
      unmanageable: observation.unmanageable,
      version: observation.version,
      role,
    };
  }
  // Two probe runs closer together than half an interval (overlapping invocations) are one
  // observation, so a burst of runs cannot fail a master over faster than configured.
  const countedAt = previous?.counted_at ?? null;
  const counts = countedAt === null || now - countedAt >= settings.intervalMs / 2;
  const failures = (previous?.failures ?? 0) + (counts ? 1 : 0);
  return {
    addr: observation.node.addr,
    failures,
    counted_at: counts ? now : countedAt,
    down: failures >= settings.failures,
    last_ok: previous?.last_ok ?? null,
    last_error: observation.error,
    last_failure: observation.failure,
    unmanageable: null,
    version: null,
    role: previous?.role ?? null,
  };
}

/** Counters for every node of the cluster; nodes no longer in it are forgotten. */
export function nextCounters(
  previous: ProbeState,
  cluster: Cluster,
  observations: readonly Observation[],
  now: number,
  settings: CounterSettings,
): ProbeState["nodes"] {
  const byId = new Map(observations.map((o) => [o.node.id, o]));
  const nodes: ProbeState["nodes"] = {};
  for (const node of allNodes(cluster)) {
    const observation = byId.get(node.id);
    if (!observation) continue;
    nodes[node.id] = nextNodeHealth(previous.nodes[node.id], observation, now, settings);
  }
  return nodes;
}
