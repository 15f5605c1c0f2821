// Zones (failure domains), pure: where new nodes go so that each shard's master and replicas
// sit in distinct zones where enough zones exist, which shard a new replica joins, and what
// the loss of one zone would do to a cluster. A node without a zone is placed as before and
// judged by nobody: with no zone given anywhere, nothing here changes a thing.
import { type Cluster, type ClusterNode, type ZoneMap, zoneIn } from "../model/index.js";

/** `probe.safeModeRatio`'s default (lib/config), for callers not given the configured one. */
export const DEFAULT_SAFE_MODE_RATIO = 0.5;

/** Nodes of one shard sharing a zone with another node of it, summed over the shards. */
export function zoneCollisions(shards: readonly (readonly (string | undefined)[])[]): number {
  let collisions = 0;
  for (const zones of shards) {
    const known = zones.filter((z): z is string => z !== undefined);
    collisions += known.length - new Set(known).size;
  }
  return collisions;
}

/** How many masters each zone holds; `before` counts masters that already exist. */
function masterCounts(before: readonly (string | undefined)[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const z of before) if (z !== undefined) counts.set(z, (counts.get(z) ?? 0) + 1);
  return counts;
}

/**
 * Splits `addrs` into shards of `perShard` nodes, master first. Without zones: in order, as
 * upstream does. With zones: the nodes are dealt round the shards zone by zone (largest zone
 * first), so a zone with no more nodes than there are shards never puts two of them in one
 * shard; the operator's order is kept when it spreads as well. Each dealt shard's master is
 * the node whose zone holds the fewest masters so far (`masterZones`: masters already in the
 * cluster), so one zone's loss takes as few masters as it can.
 */
export function placeShards(
  addrs: readonly string[],
  perShard: number,
  zones: ZoneMap | undefined,
  masterZones: readonly (string | undefined)[] = [],
): string[][] {
  const count = Math.floor(addrs.length / perShard);
  const inOrder = Array.from({ length: count }, (_, i) =>
    addrs.slice(i * perShard, (i + 1) * perShard),
  );
  const zoneOf = (a: string) => zoneIn(zones, a);
  if (count === 0 || addrs.every((a) => zoneOf(a) === undefined)) return inOrder;

  const groups = new Map<string, string[]>();
  for (const a of addrs) {
    const key = zoneOf(a) ?? "";
    groups.set(key, [...(groups.get(key) ?? []), a]);
  }
  // Largest zone first (a zone's run then starts at the first shard); no zone last.
  const order = [...groups.entries()]
    .sort(([za, a], [zb, b]) =>
      (za === "") !== (zb === "") ? (za === "" ? 1 : -1) : b.length - a.length,
    )
    .flatMap(([, list]) => list);
  const dealt: string[][] = Array.from({ length: count }, () => []);
  order.forEach((a, k) => {
    dealt[k % count]!.push(a);
  });

  const spread = (layout: string[][]) => zoneCollisions(layout.map((s) => s.map(zoneOf)));
  if (spread(inOrder) <= spread(dealt)) return inOrder;
  const masters = masterCounts(masterZones);
  return dealt.map((shard) => {
    const load = (a: string) => {
      const z = zoneOf(a);
      return z === undefined ? Number.MAX_SAFE_INTEGER : (masters.get(z) ?? 0);
    };
    const master = shard.reduce((best, a) => (load(a) < load(best) ? a : best), shard[0]!);
    const z = zoneOf(master);
    if (z !== undefined) masters.set(z, (masters.get(z) ?? 0) + 1);
    return [master, ...shard.filter((a) => a !== master)];
  });
}

/**
 * The shard a new replica in `zone` joins: one with no node in that zone, else the one with
 * the fewest nodes there; then the shard with the fewest nodes; then the lowest index.
 */
export function pickReplicaShard(cluster: Cluster, zone: string | undefined): number {
  if (cluster.shards.length === 0) return -1;
  const rank = (i: number) => {
    const nodes = cluster.shards[i]!.nodes;
    const inZone = zone === undefined ? 0 : nodes.filter((n) => n.zone === zone).length;
    return [inZone, nodes.length, i] as const;
  };
  return cluster.shards
    .map((_, i) => i)
    .reduce((best, i) => {
      const [a, b] = [rank(i), rank(best)];
      return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]) ? i : best;
    }, 0);
}

/** One shard's zones, for a plan or a view: `["eu-1a", "eu-1b", null]`, master first. */
export function shardZones(
  nodes: readonly Pick<ClusterNode, "zone" | "role">[],
): (string | null)[] {
  const master = nodes.filter((n) => n.role === "master");
  return [...master, ...nodes.filter((n) => n.role !== "master")].map((n) => n.zone ?? null);
}

/**
 * What the zones say about a cluster, as warnings (`kvctl check cluster`, health): shards
 * whose nodes share a zone, zones whose loss would leave a shard with no node, and zones
 * whose loss alone would put the probe in safe mode (more than `safeModeRatio` of the nodes
 * failing at once suspends every failover, so the masters in that zone would stay down).
 * Nothing when no node has a zone.
 */
export function zoneWarnings(cluster: Cluster, safeModeRatio: number): string[] {
  const nodes = cluster.shards.flatMap((s) => s.nodes);
  if (!nodes.some((n) => n.zone !== undefined)) return [];
  const warnings: string[] = [];
  const unzoned = nodes.filter((n) => n.zone === undefined);
  if (unzoned.length > 0) {
    warnings.push(
      `${unzoned.length} node(s) have no zone (${unzoned.map((n) => n.addr).join(", ")}): their placement cannot be judged`,
    );
  }
  const zones = [...new Set(nodes.flatMap((n) => (n.zone === undefined ? [] : [n.zone])))].sort();
  cluster.shards.forEach((shard, index) => {
    for (const zone of zones) {
      const inZone = shard.nodes.filter((n) => n.zone === zone);
      if (inZone.length > 1) {
        warnings.push(
          `shard ${index} has ${inZone.length} nodes in zone ${zone} (${inZone.map((n) => n.addr).join(", ")})`,
        );
      }
      if (inZone.length > 0 && inZone.length === shard.nodes.length) {
        warnings.push(`losing zone ${zone} would leave shard ${index} with no node`);
      }
    }
  });
  for (const zone of zones) {
    const lost = nodes.filter((n) => n.zone === zone).length;
    if (lost / nodes.length > safeModeRatio) {
      warnings.push(
        `losing zone ${zone} would take ${lost} of ${nodes.length} nodes at once, more than the safe-mode threshold (${Math.round(safeModeRatio * 100)}%): the probe would suspend failover and its masters would stay down`,
      );
    }
  }
  return warnings;
}

/** A shard a scale-out adds: its nodes (master first), their password and zones. */
export interface AddedShard {
  nodes: string[];
  password: string;
  zones?: ZoneMap;
}

/**
 * The shards of a scale-out, placed by zone: shards of the same size and password are dealt
 * again as one pool (`placeShards`), their masters spread against the cluster's own. The
 * operator's grouping is kept when it spreads as well, and always without zones.
 */
export function placeAddedShards(cluster: Cluster, shards: readonly AddedShard[]): AddedShard[] {
  if (!shards.some((s) => Object.keys(s.zones ?? {}).length > 0)) return [...shards];
  const masterZones: (string | undefined)[] = cluster.shards.map(
    (s) => s.nodes.find((n) => n.role === "master")?.zone,
  );
  const out: AddedShard[] = shards.map((s) => ({ ...s }));
  const groups = new Map<string, number[]>();
  shards.forEach((s, i) => {
    const key = JSON.stringify([s.password, s.nodes.length]);
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  for (const indexes of groups.values()) {
    const zones: ZoneMap = Object.assign({}, ...indexes.map((i) => shards[i]!.zones ?? {}));
    const pool = indexes.flatMap((i) => shards[i]!.nodes);
    const placed = placeShards(pool, shards[indexes[0]!]!.nodes.length, zones, masterZones);
    indexes.forEach((i, k) => {
      out[i] = { ...shards[i]!, nodes: placed[k]!, zones };
      masterZones.push(zoneIn(zones, placed[k]![0]!));
    });
  }
  return out;
}

/** Where each node of `shards` (indexes from `first`) sits: what a plan shows. */
export function placementOf(
  shards: readonly AddedShard[],
  first: number,
): { shard: number; nodes: { addr: string; zone: string | null; role: "master" | "slave" }[] }[] {
  return shards.map((s, i) => ({
    shard: first + i,
    nodes: s.nodes.map((addr, j) => ({
      addr,
      zone: zoneIn(s.zones, addr) ?? null,
      role: j === 0 ? "master" : "slave",
    })),
  }));
}
