// The flags that say which namespace/cluster/shard a command works on, and node lookups.
import type { Command } from "commander";
import { ApiError, UsageError } from "../errors.js";
import type { ClusterJson, ClusterNode } from "../types.js";

export const NS_HELP = "namespace (default: the one set with 'kvctl use')";
export const CL_HELP = "cluster (default: the one set with 'kvctl use')";

export function withNamespace(cmd: Command): Command {
  return cmd.option("-n, --namespace <ns>", NS_HELP);
}

export function withCluster(cmd: Command): Command {
  return withNamespace(cmd).option("-c, --cluster <name>", CL_HELP);
}

/** A node by full id or unique prefix (as `showcluster` prints it), optionally in one shard. */
export function findNode(
  cluster: ClusterJson,
  idOrPrefix: string,
  shard?: number,
): { shard: number; node: ClusterNode } {
  const wanted = idOrPrefix.toLowerCase();
  const matches = cluster.shards.flatMap((s, i) =>
    shard !== undefined && i !== shard
      ? []
      : s.nodes.filter((n) => n.id.startsWith(wanted)).map((node) => ({ shard: i, node })),
  );
  const where = shard === undefined ? `cluster ${cluster.name}` : `shard ${shard}`;
  if (matches.length === 0) throw new ApiError(404, `no node with id ${idOrPrefix} in ${where}`);
  if (matches.length > 1) {
    throw new UsageError(`node id ${idOrPrefix} is ambiguous in ${where}: give more characters`);
  }
  return matches[0]!;
}

/** Values of a repeatable option. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
