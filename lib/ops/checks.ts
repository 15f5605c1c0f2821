// Checks on nodes before they are trusted with a topology.
import { conflict, errorMessage, KvcError } from "../errors.js";
import { isNodeError, type NodeLine, withNode } from "../kvrocks/index.js";
import { allNodes, type Cluster, canonicalAddr } from "../model/index.js";
import { type ClusterRef, ownerString } from "../store/index.js";
import type { OpsDeps } from "./deps.js";

export interface NodeCheck {
  addr: string;
  problem: string | null;
}

/** A node a new cluster can use: reachable, in cluster mode, not part of another topology. */
export async function checkNodeIsFree(
  addr: string,
  password: string,
  timeoutMs: number,
): Promise<NodeCheck> {
  try {
    const info = await withNode(addr, { password, timeoutMs }, (client) => client.clusterInfo());
    return {
      addr,
      problem: `already serves a topology (version ${info.currentEpoch}); import the cluster instead`,
    };
  } catch (err) {
    if (isNodeError(err) && err.notInitialized) return { addr, problem: null };
    if (isNodeError(err) && err.reply?.includes("Cluster mode is not enabled")) {
      return { addr, problem: "is not in cluster mode (set cluster-enabled yes)" };
    }
    return { addr, problem: `is not usable: ${errorMessage(err)}` };
  }
}

export async function assertNodesFree(
  addrs: readonly string[],
  password: string,
  timeoutMs: number,
  /** Nodes an admin takes over with `force` (see `assertNodesMayJoin`): a topology is fine. */
  takenOver: ReadonlySet<string> = new Set(),
) {
  const checks = await Promise.all(
    addrs
      .filter((addr) => !takenOver.has(canonicalAddr(addr)))
      .map((addr) => checkNodeIsFree(addr, password, timeoutMs)),
  );
  const bad = checks.filter((c) => c.problem !== null);
  if (bad.length > 0) {
    throw new KvcError(
      "invalid",
      bad.map((c) => `node ${c.addr} ${c.problem}`).join("; "),
      "nodes",
    );
  }
}

/** Who a node says it is: its id (empty before SETNODEID) and its topology (empty before any). */
interface NodeIdentity {
  addr: string;
  id: string;
  view: NodeLine[];
}

/** The node's identity, or null when it cannot be asked (down, refuses the password...). */
async function readIdentity(
  addr: string,
  password: string,
  timeoutMs: number,
): Promise<NodeIdentity | null> {
  try {
    return await withNode(addr, { password, timeoutMs }, async (client) => {
      const id = await client.myId();
      try {
        return { addr, id, view: await client.clusterNodes() };
      } catch (err) {
        if (isNodeError(err) && err.notInitialized) return { addr, id, view: [] };
        throw err;
      }
    });
  } catch {
    return null;
  }
}

export interface JoinOptions {
  /** The cluster the nodes join, as stored now; absent for a cluster being created. */
  current?: Cluster;
  /** An admin's `force`: take nodes a cluster no longer stored left initialised. */
  force?: boolean;
  /** Import: the nodes are expected to hold a topology of their own. */
  importing?: boolean;
}

/**
 * Asks each node who it is before it joins `target`; returns the (canonical) addresses taken
 * over with `force`, whose first push may replace the node's id (`PushOptions.takeOver`).
 * - A node whose id, or whose topology, is another stored cluster's: 409 naming that cluster,
 *   whatever the token and `force` (its address may be spelt in a way the claims cannot tie
 *   to the stored one: `0.0.0.0`, a second interface).
 * - A node that answers as a node this cluster already has: 409.
 * - A node a cluster no longer stored left initialised: 409 unless importing or `force`.
 * - A fresh node, a former node of this cluster, or a node that cannot be asked (down, a
 *   wrong password: it cannot be pushed to either, and every push asks it again): fine.
 */
export async function assertNodesMayJoin(
  deps: OpsDeps,
  target: ClusterRef,
  addrs: readonly string[],
  password: string,
  options: JoinOptions = {},
): Promise<Set<string>> {
  const identities = (
    await Promise.all(addrs.map((addr) => readIdentity(addr, password, deps.nodeTimeoutMs)))
  ).filter((i): i is NodeIdentity => i !== null && (i.id !== "" || i.view.length > 0));
  const takenOver = new Set<string>();
  if (identities.length === 0) return takenOver;
  const ids = new Set(identities.flatMap((i) => [i.id, ...i.view.map((l) => l.id)]));
  ids.delete("");
  const owners = await deps.store.findNodeOwners(ids);
  const members = new Map((options.current ? allNodes(options.current) : []).map((n) => [n.id, n]));
  const targetName = ownerString(target);
  for (const node of identities) {
    const answersAs = node.id === "" ? "" : ` (it answers as ${node.id})`;
    const owned = [node.id, ...node.view.map((l) => l.id)].flatMap((id) => {
      const ref = owners.get(id);
      return ref && ownerString(ref) !== targetName ? [ref] : [];
    });
    if (owned.length > 0) {
      throw conflict(
        `node ${node.addr} is a node of cluster ${ownerString(owned[0]!)}${answersAs}: it cannot join ${targetName}`,
      );
    }
    const same = members.get(node.id);
    if (same) {
      throw conflict(
        `node ${node.addr} answers as ${node.id}, already node ${same.addr} of ${targetName}`,
      );
    }
    if (node.view.length === 0) continue; // an id, no topology: serves nothing
    if (node.view.some((l) => members.has(l.id))) continue; // a former node of this cluster
    if (options.importing) continue;
    if (options.force) {
      takenOver.add(canonicalAddr(node.addr));
      continue;
    }
    throw conflict(
      `node ${node.addr} was initialised by a cluster that is no longer stored${answersAs}: import that cluster, or add the node with "force": true (admin token) to take it over`,
    );
  }
  return takenOver;
}
