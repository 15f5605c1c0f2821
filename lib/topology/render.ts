// The one renderer of a cluster into the text CLUSTERX SETNODES takes.
import { type Cluster, masterOf, splitAddr } from "../model/index.js";
import { formatSlotRange } from "../slots/index.js";

export function renderSetNodes(cluster: Cluster): string {
  const lines: string[] = [];
  for (const shard of cluster.shards) {
    const master = masterOf(shard);
    if (!master) continue;
    for (const node of shard.nodes) {
      const { host, port } = splitAddr(node.addr);
      if (node.role === "master") {
        const ranges = shard.slot_ranges.map(formatSlotRange);
        lines.push([node.id, host, port, "master", "-", ...ranges].join(" "));
      } else {
        lines.push([node.id, host, port, "slave", master.id].join(" "));
      }
    }
  }
  return lines.join("\n");
}
