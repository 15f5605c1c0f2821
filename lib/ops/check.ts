// `redis-cli --cluster check` from the controller's side: every node's own view against the
// stored topology, and what the probe would repair. Reads only; the repairs are pushes the
// caller may then ask for (sync).
import { errorMessage, isKvcError } from "../errors.js";
import {
  type ClusterInfo,
  isNodeError,
  type NodeLine,
  type ReplicationInfo,
  readKvrocksVersion,
  withNode,
} from "../kvrocks/index.js";
import { type Cluster, canonicalAddr, isActive, masterOf, type NodeRole } from "../model/index.js";
import {
  countSlots,
  formatSlotRanges,
  MAX_SLOT,
  mergeRanges,
  subtractRanges,
} from "../slots/index.js";
import { viewMatches } from "../topology/index.js";
import type { OpsDeps } from "./deps.js";
import { listTasks } from "./tasks.js";
import { MIN_KVROCKS_VERSION, supportedVersion } from "./versions.js";
import { DEFAULT_SAFE_MODE_RATIO, zoneWarnings } from "./zones.js";

export interface CheckedNode {
  id: string;
  addr: string;
  shard: number;
  role: NodeRole;
  up: boolean;
  error: string | null;
  /** CLUSTERX VERSION; -1 before any topology. */
  version: number | null;
  kvrocks_version: string | null;
  /** What the node says it is (INFO replication). */
  role_seen: NodeRole | null;
  /** Replicas: link to the master, and how far behind it is in bytes of replication offset. */
  master_link_up: boolean | null;
  lag: number | null;
  view_matches: boolean | null;
}

export interface Finding {
  node: string | null;
  problem: string;
}

export interface Repair {
  id: string;
  addr: string;
  reason: string;
  /** Re-apply at an equal version: the node has the version and a different view. */
  force: boolean;
  /** The node claims a newer version than etcd: pushed only when the operator insists. */
  needs_force: boolean;
}

export interface ClusterCheck {
  namespace: string;
  cluster: string;
  version: number;
  ok: boolean;
  nodes: CheckedNode[];
  findings: Finding[];
  repairs: Repair[];
  /**
   * Placement by zone (`zoneWarnings`): not a fault of any node, so `ok` does not depend on
   * them; what the loss of one zone would do.
   */
  warnings: Finding[];
}

interface Seen {
  version: number;
  lines: NodeLine[] | null;
  replication: ReplicationInfo;
  info: ClusterInfo | null;
  kvrocksVersion: string | null;
}

async function readNode(addr: string, password: string, timeoutMs: number): Promise<Seen> {
  return withNode(addr, { password, timeoutMs }, async (client) => {
    const [version, replication, kvrocksVersion] = await Promise.all([
      client.version(),
      client.replicationInfo(),
      readKvrocksVersion(client).catch(() => null),
    ]);
    // A node without a topology answers CLUSTERDOWN to these: nothing to compare.
    const notInitialized = (err: unknown) => {
      if (isNodeError(err) && err.notInitialized) return null;
      throw err;
    };
    const lines = version < 0 ? null : await client.clusterNodes().catch(notInitialized);
    const info = version < 0 ? null : await client.clusterInfo().catch(notInitialized);
    return { version, lines, replication, info, kvrocksVersion };
  });
}

function slotFindings(cluster: Cluster): Finding[] {
  const owned = mergeRanges(cluster.shards.flatMap((s) => s.slot_ranges));
  const missing = subtractRanges([{ start: 0, stop: MAX_SLOT }], owned);
  if (missing.length === 0) return [];
  return [
    {
      node: null,
      problem: `${countSlots(missing)} slot(s) belong to no shard: ${formatSlotRanges(missing).join(",")}`,
    },
  ];
}

export async function checkCluster(deps: OpsDeps, ns: string, name: string): Promise<ClusterCheck> {
  const { cluster } = await deps.store.getCluster(ns, name);
  const tasks = await listTasks(deps.store, ns, name);
  const located = cluster.shards.flatMap((s, shard) => s.nodes.map((node) => ({ node, shard })));
  const seen = await Promise.all(
    located.map(({ node }) =>
      readNode(node.addr, node.password, deps.nodeTimeoutMs).then(
        (value) => ({ value, error: null }),
        (err: unknown) => ({
          value: null,
          error: isKvcError(err) ? err.message : errorMessage(err),
        }),
      ),
    ),
  );
  const findings: Finding[] = slotFindings(cluster);
  const repairs: Repair[] = [];
  const offsets = new Map<string, number>();
  located.forEach(({ node }, i) => {
    const s = seen[i]!.value;
    if (s && node.role === "master") offsets.set(node.id, s.replication.masterReplOffset);
  });

  const nodes = located.map(({ node, shard }, i): CheckedNode => {
    const { value: s, error } = seen[i]!;
    const found = (problem: string) => findings.push({ node: node.addr, problem });
    const checked: CheckedNode = {
      id: node.id,
      addr: node.addr,
      shard,
      role: node.role,
      up: s !== null,
      error,
      version: s?.version ?? null,
      kvrocks_version: s?.kvrocksVersion ?? null,
      role_seen: s ? s.replication.role : null,
      master_link_up: null,
      lag: null,
      view_matches: s?.lines ? viewMatches(cluster, s.lines) : null,
    };
    if (!s) {
      found(`is down: ${error}`);
      return checked;
    }
    const repair = (reason: string, force: boolean, needsForce = false) => {
      found(reason);
      repairs.push({ id: node.id, addr: node.addr, reason, force, needs_force: needsForce });
    };
    if (s.version < 0) repair("has no topology (never given one, or lost it)", false);
    else if (s.version < cluster.version)
      repair(`is behind: version ${s.version}, etcd has ${cluster.version}`, false);
    else if (s.version > cluster.version)
      repair(`claims version ${s.version}, newer than etcd's ${cluster.version}`, true, true);
    else if (checked.view_matches === false)
      repair(`disagrees with etcd at the same version ${s.version}`, true);

    if (s.replication.role !== node.role) {
      found(`is a ${s.replication.role} but etcd has it as a ${node.role}`);
    }
    if (node.role === "slave") {
      const master = masterOf(cluster.shards[shard]!);
      checked.master_link_up = s.replication.masterLinkUp;
      const masterOffset = master ? offsets.get(master.id) : undefined;
      if (masterOffset !== undefined) {
        checked.lag = Math.max(0, masterOffset - s.replication.slaveReplOffset);
      }
      const following = `${s.replication.masterHost}:${s.replication.masterPort}`;
      if (
        master &&
        s.replication.role === "slave" &&
        canonicalAddr(following) !== canonicalAddr(master.addr)
      ) {
        found(`replicates ${following}, not its master ${master.addr}`);
      } else if (!s.replication.masterLinkUp) {
        found("has its link to the master down");
      } else if (s.replication.syncInProgress) {
        found("is in a full sync with its master");
      }
    }
    if (s.kvrocksVersion && !supportedVersion(s.kvrocksVersion)) {
      found(`runs Kvrocks ${s.kvrocksVersion}, older than ${MIN_KVROCKS_VERSION}`);
    }
    const migration = s.info?.migrating;
    if (migration && migration.state === "fail") {
      found(`reports a failed migration of ${formatSlotRanges(migration.ranges).join(",")}`);
    }
    // Kvrocks keeps the last range a master migrated away write-forbidden until it imports
    // exactly that range again (see leftovers.ts): owned again, those slots refuse every write.
    // Not a range its shard still records migrating (a success not folded yet).
    const record = cluster.shards[shard]!.migrating_slot;
    if (node.role === "master" && migration?.state === "success") {
      const kept = migration.ranges.filter(
        (r) => !(record && record.start === r.start && record.stop === r.stop),
      );
      const owned = cluster.shards[shard]!.slot_ranges;
      const stuck = subtractRanges(kept, subtractRanges(kept, owned));
      if (stuck.length > 0) {
        found(
          `refuses every write to slots ${formatSlotRanges(stuck).join(",")} (TRYAGAIN: write-forbidden since it migrated them away); restart the node or fail the shard over to a replica`,
        );
      }
    }
    return checked;
  });

  const running = tasks.filter(isActive);
  cluster.shards.forEach((shard, index) => {
    if (shard.migrating_slot && running.length === 0) {
      findings.push({
        node: null,
        problem: `shard ${index} records a migration of ${formatSlotRanges([shard.migrating_slot]).join(",")} to shard ${shard.target_shard_index} that no task carries on`,
      });
    }
  });
  const versions = new Set(nodes.map((n) => n.kvrocks_version).filter((v) => v !== null));
  if (versions.size > 1) {
    findings.push({
      node: null,
      problem: `nodes run mixed Kvrocks versions: ${[...versions].join(", ")}`,
    });
  }
  return {
    namespace: ns,
    cluster: name,
    version: cluster.version,
    ok: findings.length === 0,
    nodes,
    findings,
    repairs,
    warnings: zoneWarnings(cluster, deps.safeModeRatio ?? DEFAULT_SAFE_MODE_RATIO).map(
      (problem) => ({ node: null, problem }),
    ),
  };
}
