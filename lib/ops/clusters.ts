// Creating, importing and deleting clusters.
import { conflict, errorMessage, invalid } from "../errors.js";
import { type NodeLine, withNode } from "../kvrocks/index.js";
import {
  allNodes,
  type Cluster,
  type ClusterNode,
  canonicalAddr,
  type Shard,
  type ZoneMap,
  zoneIn,
} from "../model/index.js";
import { mergeRanges } from "../slots/index.js";
import { type PushResult, viewLines } from "../topology/index.js";
import { assertNodesFree, assertNodesMayJoin } from "./checks.js";
import { planCluster } from "./compute.js";
import type { OpsDeps } from "./deps.js";
import { pushCluster } from "./push.js";
import { assertKvrocksVersions } from "./versions.js";

export interface CreateClusterInput {
  name: string;
  nodes: string[];
  replicas: number;
  password: string;
  /** Skip the reachability and cluster-mode check (nodes not started yet, say). */
  skipNodeCheck?: boolean;
  /** Skip the Kvrocks version check (upstream's X-Dont-Check-Kvrocks-Version). */
  skipVersionCheck?: boolean;
  /** An admin's: take nodes a cluster no longer stored left initialised (`assertNodesMayJoin`). */
  force?: boolean;
  /** Zones given beside the addresses: the shards are placed by them (`placeShards`). */
  zones?: ZoneMap;
}

export async function createCluster(
  deps: OpsDeps,
  ns: string,
  input: CreateClusterInput,
): Promise<{ cluster: Cluster; push: PushResult[] }> {
  const cluster = planCluster(input, deps.now());
  // Asked whatever `check_nodes` says: skipping the checks of a node not started yet must not
  // let a running node of another cluster through.
  const takenOver = await assertNodesMayJoin(
    deps,
    { namespace: ns, cluster: input.name },
    input.nodes,
    input.password,
    { force: input.force ?? false },
  );
  if (!input.skipNodeCheck) {
    await assertNodesFree(input.nodes, input.password, deps.nodeTimeoutMs, takenOver);
  }
  if (!input.skipVersionCheck) {
    await assertKvrocksVersions(input.nodes, input.password, {
      timeoutMs: deps.nodeTimeoutMs,
      allowUnreachable: input.skipNodeCheck ?? false,
    });
  }
  await deps.store.createCluster(ns, cluster);
  const takeOver = new Set(
    allNodes(cluster)
      .filter((n) => takenOver.has(canonicalAddr(n.addr)))
      .map((n) => n.id),
  );
  const push = await pushCluster(deps, ns, cluster, { takeOver });
  return { cluster, push };
}

export interface ImportClusterInput {
  name: string;
  nodes: string[];
  password: string;
  skipVersionCheck?: boolean;
  /** Zones given beside the addresses; a node of the view not given has none. */
  zones?: ZoneMap;
}

/** Builds the cluster from the nodes' own view; every given node must see the same thing. */
export async function importCluster(
  deps: OpsDeps,
  ns: string,
  input: ImportClusterInput,
): Promise<Cluster> {
  if (input.nodes.length === 0) throw invalid("import needs at least one node", "nodes");
  // A running cluster another stored cluster has (under other spellings of its addresses)
  // is refused naming it; one no stored cluster has is what import is for.
  await assertNodesMayJoin(
    deps,
    { namespace: ns, cluster: input.name },
    input.nodes,
    input.password,
    {
      importing: true,
    },
  );
  if (!input.skipVersionCheck) {
    await assertKvrocksVersions(input.nodes, input.password, {
      timeoutMs: deps.nodeTimeoutMs,
      allowUnreachable: true, // an unreachable node fails the import below, with its reason
    });
  }
  const views = await Promise.all(
    input.nodes.map(async (addr) => {
      try {
        const view = await withNode(
          addr,
          { password: input.password, timeoutMs: deps.nodeTimeoutMs },
          async (c) => ({
            version: await c.version(),
            nodes: await c.clusterNodes(),
          }),
        );
        return { addr, ...view };
      } catch (err) {
        throw invalid(`cannot read the topology of ${addr}: ${errorMessage(err)}`, "nodes");
      }
    }),
  );
  const reference = views[0]!;
  const referenceText = viewLines(reference.nodes).join("\n");
  const disagreeing = views.filter(
    (v) => v.version !== reference.version || viewLines(v.nodes).join("\n") !== referenceText,
  );
  if (disagreeing.length > 0) {
    throw conflict(
      `nodes disagree about the topology: ${reference.addr} (version ${reference.version}) vs ${disagreeing
        .map((v) => `${v.addr} (version ${v.version})`)
        .join(", ")}`,
    );
  }
  const cluster = clusterFromView(
    input.name,
    reference.version,
    reference.nodes,
    input.password,
    deps.now(),
    input.zones,
  );
  await deps.store.createCluster(ns, cluster);
  return cluster;
}

export function clusterFromView(
  name: string,
  version: number,
  lines: readonly NodeLine[],
  password: string,
  now: number,
  zones?: ZoneMap,
): Cluster {
  const createdAt = Math.floor(now / 1000);
  const zoned = <T extends ClusterNode>(node: T): T => {
    const zone = zoneIn(zones, node.addr);
    return zone === undefined ? node : { ...node, zone };
  };
  // Shards in slot order, as they were created; empty masters last.
  const firstSlot = (l: NodeLine) =>
    Math.min(...l.slots.map((r) => r.start), Number.MAX_SAFE_INTEGER);
  const masters = lines
    .filter((l) => l.role === "master")
    .sort((a, b) => firstSlot(a) - firstSlot(b));
  const shards: Shard[] = masters.map((m) => ({
    nodes: [
      zoned({ id: m.id, addr: m.addr, role: "master", password, created_at: createdAt }),
      ...lines
        .filter((l) => l.role === "slave" && l.masterId === m.id)
        .map((s) =>
          zoned({
            id: s.id,
            addr: s.addr,
            role: "slave" as const,
            password,
            created_at: createdAt,
          }),
        ),
    ],
    slot_ranges: mergeRanges(m.slots),
    target_shard_index: -1,
    migrating_slot: null,
  }));
  const orphan = lines.find((l) => l.role === "slave" && !masters.some((m) => m.id === l.masterId));
  if (orphan)
    throw invalid(`node ${orphan.addr} replicates unknown master ${orphan.masterId}`, "nodes");
  return { name, version: Math.max(version, 1), shards };
}
