// Every push the operations make goes through here, so every missed node is logged once with
// its reason (the next probe round repairs it).
import type { Logger } from "../log.js";
import { assertClusterValid, type Cluster, ProbeState } from "../model/index.js";
import { type PushOptions, type PushResult, pushTopology } from "../topology/index.js";
import { type OpsDeps, switchoverBoundMs } from "./deps.js";

export function logPushFailures(log: Logger, results: readonly PushResult[]): void {
  for (const r of results) {
    if (!r.ok)
      log.warn({ node: r.id, addr: r.addr, error: r.error }, "push: node missed the topology");
  }
}

export async function pushCluster(
  deps: OpsDeps,
  ns: string,
  cluster: Cluster,
  options: Omit<PushOptions, "timeoutMs"> = {},
): Promise<PushResult[]> {
  // etcd may hold a cluster written by hand or by another tool: never spread a broken one.
  assertClusterValid(cluster);
  // Every push of a stored topology waits out a planned switchover (see latestAfterSwitchover):
  // read after the caller's read, so a switch committed in between is never pushed early.
  const latest = await latestAfterSwitchover(deps, ns, cluster);
  if (!latest) {
    deps.log
      .child({ namespace: ns, cluster: cluster.name, version: cluster.version })
      .warn("push: left to the next probe round (a switchover is under way or etcd is unreadable)");
    return [];
  }
  cluster = latest;
  const heldData = await mastersWithData(deps, ns, cluster.name);
  const results = await pushTopology(cluster, {
    ...options,
    heldData,
    timeoutMs: deps.nodeTimeoutMs,
  });
  logPushFailures(
    deps.log.child({ namespace: ns, cluster: cluster.name, version: cluster.version }),
    results,
  );
  return results;
}

/**
 * The masters the probe last recorded holding data (none when it never ran or its state is
 * unreadable: the replicas' own answers still guard, see `assertNotEmptiedMaster`).
 */
async function mastersWithData(deps: OpsDeps, ns: string, name: string): Promise<Set<string>> {
  const state = await deps.store
    .getDoc(deps.store.keys.probeState(ns, name), ProbeState)
    .catch(() => null);
  return new Set(state?.value.masters_with_data ?? []);
}

/** How often a push held for a switchover asks whether it ended. */
const SWITCHOVER_POLL_MS = 50;

/**
 * The topology to push once no planned switchover of the cluster is under way: the latest
 * stored one (a change committed during the switchover is built on its switch, and pushed to
 * the switching shard it would promote the new master before that one caught up, losing the
 * writes it lacked; see `switchOver`). Waits at most as long as a switchover can hold its
 * marker. Null when one still is under way, the marker cannot be read, or the cluster is gone:
 * nothing is pushed, and the next probe round repairs the nodes from etcd (the cheaper error).
 */
export async function latestAfterSwitchover(
  deps: OpsDeps,
  ns: string,
  committed: Cluster,
): Promise<Cluster | null> {
  const giveUp = performance.now() + switchoverBoundMs(deps);
  let waited = false;
  for (;;) {
    const under = await deps.store.switchoverUnderWay(ns, committed.name).catch(() => null);
    if (under === null) return null;
    if (!under) break;
    if (performance.now() >= giveUp) return null;
    waited = true;
    await new Promise((r) => setTimeout(r, SWITCHOVER_POLL_MS));
  }
  if (!waited) return committed;
  const stored = await deps.store.getCluster(ns, committed.name).catch(() => null);
  return stored && stored.cluster.version >= committed.version ? stored.cluster : null;
}
