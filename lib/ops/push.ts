// Every push the operations make goes through here, so every missed node is logged once with
// its reason (the next probe round repairs it).
import type { Logger } from "../log.js";
import { assertClusterValid, type Cluster } from "../model/index.js";
import { type PushOptions, type PushResult, pushTopology } from "../topology/index.js";
import type { OpsDeps } from "./deps.js";

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
  const results = await pushTopology(cluster, { ...options, timeoutMs: deps.nodeTimeoutMs });
  logPushFailures(
    deps.log.child({ namespace: ns, cluster: cluster.name, version: cluster.version }),
    results,
  );
  return results;
}
