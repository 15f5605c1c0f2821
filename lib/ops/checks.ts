// Checks on nodes before they are trusted with a topology.
import { errorMessage, KvcError } from "../errors.js";
import { isNodeError, withNode } from "../kvrocks/index.js";

export interface NodeCheck {
  addr: string;
  problem: string | null;
}

/** A node a new cluster can use: reachable, in cluster mode, not part of another topology. */
export async function checkNodeIsFree(
  addr: string,
  password: string,
  timeoutMs: number,
): Promise<NodeCheck> {
  try {
    const info = await withNode(addr, { password, timeoutMs }, (client) => client.clusterInfo());
    return {
      addr,
      problem: `already serves a topology (version ${info.currentEpoch}); import the cluster instead`,
    };
  } catch (err) {
    if (isNodeError(err) && err.notInitialized) return { addr, problem: null };
    if (isNodeError(err) && err.reply?.includes("Cluster mode is not enabled")) {
      return { addr, problem: "is not in cluster mode (set cluster-enabled yes)" };
    }
    return { addr, problem: `is not usable: ${errorMessage(err)}` };
  }
}

export async function assertNodesFree(
  addrs: readonly string[],
  password: string,
  timeoutMs: number,
) {
  const checks = await Promise.all(addrs.map((addr) => checkNodeIsFree(addr, password, timeoutMs)));
  const bad = checks.filter((c) => c.problem !== null);
  if (bad.length > 0) {
    throw new KvcError(
      "invalid",
      bad.map((c) => `node ${c.addr} ${c.problem}`).join("; "),
      "nodes",
    );
  }
}
