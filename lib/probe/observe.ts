// One look at one node: is it alive, which version does it hold, what does it believe.
import { errorMessage } from "../errors.js";
import {
  isNodeError,
  type NodeLine,
  type NodePool,
  type ReplicationInfo,
  withNode,
} from "../kvrocks/index.js";
import type { ClusterNode } from "../model/index.js";

export interface Observation {
  node: ClusterNode;
  /** Answered at all (a node restoring a backup is alive, just not serving). */
  alive: boolean;
  /** CLUSTERDOWN ... not initialized: alive, version -1, needs the topology. */
  notInitialized: boolean;
  loading: boolean;
  version: number | null;
  view: NodeLine[] | null;
  /** INFO replication + keyspace: role, link, `sequence`; null when it could not be read. */
  replication: ReplicationInfo | null;
  error: string | null;
  /**
   * Why it did not answer: refused (nothing listens: the process is gone), timeout (stalled,
   * overloaded or cut off), or other (reset, closed, an error reply); null when it answered.
   */
  failure: FailureKind | null;
}

export type FailureKind = "refused" | "timeout" | "other";

function failureKind(err: unknown): FailureKind {
  if (!isNodeError(err)) return "other";
  if (err.failure === "timeout") return "timeout";
  if (err.failure === "unreachable" && /ECONNREFUSED/.test(err.message)) return "refused";
  return "other";
}

export async function observeNode(
  node: ClusterNode,
  timeoutMs: number,
  pool?: NodePool,
): Promise<Observation> {
  const base = {
    node,
    notInitialized: false,
    loading: false,
    version: null,
    view: null,
    replication: null,
    error: null,
    failure: null,
  };
  try {
    const options = { password: node.password, timeoutMs };
    const use = pool ? pool.use.bind(pool) : withNode;
    return await use(node.addr, options, async (client) => {
      // One write; an uninitialized node fails CLUSTER NODES, handled below. Every
      // CLUSTER NODES line carries the node's cluster version as its config epoch, so no
      // CLUSTER INFO (which makes Kvrocks count all 16384 slots) is needed for it.
      // INFO is read only to keep what failover needs (who holds data): missing, it is null.
      const { view, replication } = await client.probeView();
      const version = versionIn(view) ?? (await client.version());
      return { ...base, alive: true, version, view, replication };
    });
  } catch (err) {
    if (isNodeError(err) && err.notInitialized) {
      return { ...base, alive: true, notInitialized: true, version: -1 };
    }
    if (isNodeError(err) && err.loading) {
      return { ...base, alive: true, loading: true, error: err.reply ?? errorMessage(err) };
    }
    return { ...base, alive: false, error: errorMessage(err), failure: failureKind(err) };
  }
}

/** The cluster version a CLUSTER NODES answer was printed at; null when it has no line. */
function versionIn(view: readonly NodeLine[]): number | null {
  return (view.find((line) => line.myself) ?? view[0])?.version ?? null;
}

/** The role a node says it has, from the `myself` line of its CLUSTER NODES. */
export function roleSeen(observation: Observation): "master" | "slave" | null {
  return observation.view?.find((line) => line.myself)?.role ?? null;
}
