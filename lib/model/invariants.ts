// Checked before every write: a cluster that breaks one of these is never stored.
import { invalid } from "../errors.js";
import { containsRange, formatSlotRange, SLOT_COUNT } from "../slots/index.js";
import type { Cluster } from "./cluster.js";

export function clusterViolations(cluster: Cluster): string[] {
  const problems: string[] = [];
  const owner = new Int32Array(SLOT_COUNT).fill(-1);
  const addrs = new Map<string, string>();
  const ids = new Set<string>();

  cluster.shards.forEach((shard, index) => {
    const masters = shard.nodes.filter((n) => n.role === "master").length;
    if (masters !== 1) problems.push(`shard ${index} has ${masters} masters, needs exactly one`);

    for (const node of shard.nodes) {
      const seen = addrs.get(node.addr);
      if (seen) problems.push(`address ${node.addr} appears twice (${seen} and shard ${index})`);
      addrs.set(node.addr, `shard ${index}`);
      if (ids.has(node.id)) problems.push(`node id ${node.id} appears twice`);
      ids.add(node.id);
    }

    let overlapSeen = false;
    for (const range of shard.slot_ranges) {
      for (let slot = range.start; slot <= range.stop; slot++) {
        const previous = owner[slot] as number;
        if (previous !== -1 && !overlapSeen) {
          // One line per shard is enough to act on; thousands would bury the message.
          problems.push(`slot ${slot} is owned by shard ${previous} and shard ${index}`);
          overlapSeen = true;
        }
        owner[slot] = index;
      }
    }

    if (shard.migrating_slot) {
      const target = shard.target_shard_index;
      if (target < 0 || target >= cluster.shards.length || target === index) {
        problems.push(`shard ${index} migrates to invalid shard index ${target}`);
      }
      if (!containsRange(shard.slot_ranges, shard.migrating_slot)) {
        problems.push(
          `shard ${index} migrates ${formatSlotRange(shard.migrating_slot)} which it does not own`,
        );
      }
    }
  });

  if (cluster.shards.length > 0) {
    const unowned = owner.indexOf(-1);
    if (unowned !== -1) problems.push(`slot ${unowned} is owned by no shard`);
  }
  return problems;
}

export function assertClusterValid(cluster: Cluster): void {
  const problems = clusterViolations(cluster);
  if (problems.length > 0) {
    throw invalid(`cluster ${cluster.name} would be invalid: ${problems.join("; ")}`);
  }
}
