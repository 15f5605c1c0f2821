// Node passwords are stored (upstream's layout) but never leave the server.
import {
  type Cluster,
  type ClusterJson,
  type ClusterNode,
  clusterToJson,
  type ShardJson,
} from "../lib/model/index.js";

export const REDACTED = "******";

export function publicNode(node: ClusterNode): ClusterNode {
  return { ...node, password: node.password ? REDACTED : "" };
}

export function publicShard(shard: ShardJson): ShardJson {
  return { ...shard, nodes: shard.nodes.map(publicNode) };
}

export function publicCluster(cluster: Cluster): ClusterJson {
  const json = clusterToJson(cluster);
  return { ...json, shards: json.shards.map(publicShard) };
}
