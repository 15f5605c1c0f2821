// A cluster's health as the probe last recorded it in etcd; no node is contacted.
import {
  type ClusterHealth,
  emptyProbeState,
  type NodeHealthView,
  ProbeState,
} from "../model/index.js";
import type { Store } from "../store/index.js";

export async function clusterHealth(
  store: Store,
  ns: string,
  name: string,
): Promise<ClusterHealth> {
  const [{ cluster }, stored, seen] = await Promise.all([
    store.getCluster(ns, name),
    store.getDoc(store.keys.probeState(ns, name), ProbeState),
    store.probeSeen(),
  ]);
  const state = stored?.value ?? emptyProbeState();
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
        reported_version: reported,
        role_seen: h?.role ?? null,
        behind: reported !== null && reported < cluster.version,
      };
    }),
  );
  return {
    version: cluster.version,
    safe_mode: state.safe_mode,
    safe_mode_reason: state.safe_mode_reason,
    nodes_behind: nodes.filter((n) => n.behind).length,
    nodes_down: nodes.filter((n) => !n.up).length,
    failover_blocked: state.failover_blocked,
    ahead: state.ahead,
    nodes,
  };
}
