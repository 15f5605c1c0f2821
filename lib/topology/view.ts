// What a node believes the topology is, and whether that matches what etcd says.
import { type NodeClientOptions, type NodeLine, withNode } from "../kvrocks/index.js";
import { type Cluster, canonicalAddr, masterOf } from "../model/index.js";
import { formatSlotRanges, mergeRanges } from "../slots/index.js";

export interface NodeView {
  version: number;
  nodes: NodeLine[];
}

export async function readNodeView(addr: string, options: NodeClientOptions): Promise<NodeView> {
  return withNode(addr, options, async (client) => {
    const version = await client.version();
    const nodes = await client.clusterNodes();
    return { version, nodes };
  });
}

/**
 * A canonical line per node (id, address, role, master, slots), sorted, for comparison. The
 * address in its one spelling: a node reports the port as a plain number (`h:06379` stored is
 * `h:6379` there), and the host as it was pushed, which may be another spelling than etcd's.
 */
function describe(
  lines: { id: string; addr: string; role: string; master: string; slots: string }[],
) {
  return lines
    .map((l) => `${l.id} ${canonicalAddr(l.addr)} ${l.role} ${l.master} ${l.slots}`)
    .sort();
}

export function expectedLines(cluster: Cluster): string[] {
  return describe(
    cluster.shards.flatMap((shard) => {
      const master = masterOf(shard);
      return shard.nodes.map((node) => ({
        id: node.id,
        addr: node.addr,
        role: node.role,
        master: node.role === "master" ? "-" : (master?.id ?? "-"),
        slots:
          node.role === "master" ? formatSlotRanges(mergeRanges(shard.slot_ranges)).join(",") : "",
      }));
    }),
  );
}

export function viewLines(nodes: readonly NodeLine[]): string[] {
  return describe(
    nodes.map((n) => ({
      id: n.id,
      addr: n.addr,
      role: n.role,
      master: n.masterId ?? "-",
      slots: formatSlotRanges(mergeRanges(n.slots)).join(","),
    })),
  );
}

/** Whether a node's CLUSTER NODES says the same as the stored cluster (ignoring version). */
export function viewMatches(cluster: Cluster, nodes: readonly NodeLine[]): boolean {
  const expected = expectedLines(cluster);
  const seen = viewLines(nodes);
  return expected.length === seen.length && expected.every((line, i) => line === seen[i]);
}
