// etcd is the truth; nodes converge to it by being pushed the whole topology.

import { errorMessage } from "../errors.js";
import { type NodeClientOptions, withNode } from "../kvrocks/index.js";
import { allNodes, type Cluster, type ClusterNode } from "../model/index.js";
import { renderSetNodes } from "./render.js";

export interface PushResult {
  id: string;
  addr: string;
  ok: boolean;
  error?: string;
}

export interface PushOptions {
  timeoutMs?: number;
  /** Re-apply at an equal version: Kvrocks ignores an equal version without it. */
  force?: boolean;
  /** Only these node ids; all nodes by default. */
  only?: ReadonlySet<string>;
}

export async function pushTopologyToNode(
  cluster: Cluster,
  node: ClusterNode,
  options: PushOptions = {},
  text = renderSetNodes(cluster),
): Promise<PushResult> {
  const clientOptions: NodeClientOptions = {
    password: node.password,
    timeoutMs: options.timeoutMs,
  };
  try {
    await withNode(node.addr, clientOptions, async (client) => {
      await client.setNodeId(node.id);
      await client.setNodes(text, cluster.version, options.force ?? false);
    });
    return { id: node.id, addr: node.addr, ok: true };
  } catch (err) {
    return { id: node.id, addr: node.addr, ok: false, error: errorMessage(err) };
  }
}

/** Pushes to every node concurrently; a node that misses it is repaired by the probe. */
export async function pushTopology(
  cluster: Cluster,
  options: PushOptions = {},
): Promise<PushResult[]> {
  const text = renderSetNodes(cluster);
  const targets = allNodes(cluster).filter((n) => !options.only || options.only.has(n.id));
  return Promise.all(targets.map((node) => pushTopologyToNode(cluster, node, options, text)));
}
