// etcd is the truth; nodes converge to it by being pushed the whole topology.

import { errorMessage } from "../errors.js";
import {
  isNodeError,
  type KvrocksClient,
  type NodeClientOptions,
  withNode,
} from "../kvrocks/index.js";
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
  /**
   * Node ids pushed even though the node answers as a node of another topology: an admin
   * added it with `force` to take over a node a cluster no longer stored left initialised.
   */
  takeOver?: ReadonlySet<string>;
  /**
   * Masters recorded as holding data (the probe's `masters_with_data`): one of them found at
   * sequence 0 has lost its data and is not made master again (`assertNotEmptiedMaster`).
   */
  heldData?: ReadonlySet<string>;
  /**
   * Node ids pushed first, one after the other in this order, before the rest at once: a
   * completed migration reaches its target master, then its source master, so the source's
   * redirect for the range lands on a target that already serves it.
   */
  order?: readonly string[];
}

/**
 * Throws unless the node at `node.addr` may be told it is `node`: it has no id yet, or this
 * one, or it was a node of this cluster (its topology names one of the cluster's nodes: a
 * node removed and added again). Anything else answers as a node of another topology, here
 * under another spelling of its address (`0.0.0.0`, a second interface) or stored in etcd by
 * hand or by upstream's controller: SETNODEID + SETNODES would take it from that cluster
 * (make it a replica of our master, dropping its data). A node with an id but no topology
 * yet serves nothing and is taken.
 */
async function assertPushable(
  client: KvrocksClient,
  cluster: Cluster,
  node: ClusterNode,
  takeOver: boolean,
): Promise<void> {
  const id = await client.myId();
  if (id === "" || id === node.id || takeOver) return;
  const members = new Map(allNodes(cluster).map((n) => [n.id, n]));
  const same = members.get(id);
  if (same) {
    throw new Error(
      `answers as node ${id} (${same.addr} in this cluster), not as ${node.id}: not pushed`,
    );
  }
  let view: { id: string }[];
  try {
    view = await client.clusterNodes();
  } catch (err) {
    if (isNodeError(err) && err.notInitialized) return;
    throw err;
  }
  if (view.some((line) => members.has(line.id))) return;
  throw new Error(
    `answers as node ${id} of another cluster's topology: not pushed, it would be taken from that cluster`,
  );
}

/**
 * Throws when `node` would be made master of slots while it holds nothing (sequence 0: a
 * restart on an empty data dir, with or without its nodes.conf) though it held data: recorded
 * so by the probe (`heldData`), or a replica of its shard holds data now. Made master, it
 * would serve the slots empty and its replicas would full-sync the emptiness. The probe fails
 * such a master over at once (`failOverEmptiedMasters`) or keeps it away when nothing can
 * take over; every other push (an API change, a failover of another shard) must leave it
 * alone too. A replica that does not answer is no evidence; all at sequence 0 is a new cluster.
 */
async function assertNotEmptiedMaster(
  client: KvrocksClient,
  cluster: Cluster,
  node: ClusterNode,
  options: PushOptions,
): Promise<void> {
  const shard = cluster.shards.find((s) => s.nodes.some((n) => n.id === node.id));
  if (!shard || node.role !== "master" || shard.slot_ranges.length === 0) return;
  const replicas = shard.nodes.filter((n) => n.id !== node.id);
  // Recorded for the shard, not the node: a failover or switchover moves the data with it.
  const recorded = shard.nodes.some((n) => options.heldData?.has(n.id));
  if (!recorded && replicas.length === 0) return;
  if ((await client.replicationInfo()).sequence > 0) return;
  if (recorded) {
    throw new Error(
      "answers at sequence 0 though it was recorded holding data: not made master, it has lost its data",
    );
  }
  const held = await Promise.all(
    replicas.map((r) =>
      withNode(r.addr, { password: r.password, timeoutMs: options.timeoutMs }, async (c) => ({
        addr: r.addr,
        sequence: (await c.replicationInfo()).sequence,
      })).catch(() => null),
    ),
  );
  const fuller = held.find((r) => r !== null && r.sequence > 0);
  if (fuller) {
    throw new Error(
      `answers at sequence 0 while its replica ${fuller.addr} holds data (sequence ${fuller.sequence}): not made master, it has lost its data`,
    );
  }
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
      await assertPushable(client, cluster, node, options.takeOver?.has(node.id) ?? false);
      await assertNotEmptiedMaster(client, cluster, node, options);
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
  const order = options.order ?? [];
  const first: PushResult[] = [];
  for (const id of order) {
    const node = targets.find((n) => n.id === id);
    if (node) first.push(await pushTopologyToNode(cluster, node, options, text));
  }
  const rest = targets.filter((n) => !order.includes(n.id));
  return [
    ...first,
    ...(await Promise.all(rest.map((node) => pushTopologyToNode(cluster, node, options, text)))),
  ];
}
