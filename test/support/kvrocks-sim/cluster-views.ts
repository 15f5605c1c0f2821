// What CLUSTER INFO / NODES / SLOTS / REPLICAS print, and the nodes.conf body, from a
// node's cluster view. Formats follow Kvrocks's Cluster::GetClusterInfo,
// genNodesDescription, GetSlotsInfo and genNodesInfo.

import { CommandError, errorOf } from "./errors.js";
import { SLOT_COUNT } from "./keyslot.js";
import type { KvrocksNode } from "./node.js";
import { arrayReply, bulkString, integerReply } from "./resp.js";
import { formatRange, isValidRange } from "./slot-range.js";
import { CLUSTER_PORT_INCR, type ClusterNode, iterationOrder } from "./topology.js";

function requireInitialized(node: KvrocksNode): void {
  if (node.cluster.version < 0) {
    throw new CommandError("CLUSTERDOWN", "The cluster is not initialized");
  }
}

export function clusterInfoText(node: KvrocksNode): string {
  requireInitialized(node);
  const c = node.cluster;
  const assigned = c.slotOwners.filter((n) => n !== null).length;
  let text =
    "cluster_state:ok\r\n" +
    `cluster_slots_assigned:${assigned}\r\n` +
    `cluster_slots_ok:${assigned}\r\n` +
    "cluster_slots_pfail:0\r\n" +
    "cluster_slots_fail:0\r\n" +
    `cluster_known_nodes:${c.nodes.size}\r\n` +
    `cluster_size:${c.size}\r\n` +
    `cluster_current_epoch:${c.version}\r\n` +
    `cluster_my_epoch:${c.version}\r\n`;
  if (c.myself?.role === "master" && !node.isSlave()) {
    text += node.migrator.info() + node.importer.info();
  }
  return text;
}

export function clusterNodesText(node: KvrocksNode): string {
  requireInitialized(node);
  const c = node.cluster;
  const slotText = slotTextById(node);
  const now = Date.now();
  let out = "";
  for (const n of iterationOrder(c.nodes)) {
    let line = `${n.id} ${n.host}:${n.port}@${n.port + CLUSTER_PORT_INCR} `;
    if (n.id === c.myid) line += "myself,";
    line += n.role === "master" ? "master - " : `slave ${n.masterId} `;
    line += `${now - 1} ${now} ${c.version} connected`;
    const slots = slotText.get(n.id);
    if (n.role === "master" && slots) line += ` ${slots}`;
    if (n.id === c.myid) {
      const migrating = node.migrator.slotRange;
      if (isValidRange(migrating)) {
        line += ` [${formatRange(migrating)}->-${node.migrator.dstNode}]`;
      }
      const importing = node.importer.activeRange();
      if (isValidRange(importing)) {
        const src = c.slotOwners[importing.start]?.id ?? "";
        line += ` [${formatRange(importing)}-<-${src}]`;
      }
    }
    out += `${line}\n`;
  }
  return out;
}

export function clusterSlotsReply(node: KvrocksNode): Buffer {
  requireInitialized(node);
  const nodes = node.cluster.nodes;
  return arrayReply(
    ownerRuns(node).map(({ start, end, owner }) => {
      const members = [owner, ...owner.replicas.map((id) => nodes.get(id))].filter(
        (n): n is ClusterNode => n !== undefined,
      );
      return arrayReply([
        integerReply(start),
        integerReply(end),
        ...members.map((n) =>
          arrayReply([bulkString(n.host), integerReply(n.port), bulkString(n.id)]),
        ),
      ]);
    }),
  );
}

export function clusterReplicasText(node: KvrocksNode, masterId: string): string {
  requireInitialized(node);
  const c = node.cluster;
  const master = c.nodes.get(masterId);
  if (!master) throw errorOf("Invalid cluster node id");
  if (master.role !== "master") throw errorOf("The node isn't a master");
  const now = Date.now();
  let out = "";
  for (const id of master.replicas) {
    const r = c.nodes.get(id);
    if (!r) continue;
    out += `${id} ${r.host}:${r.port}@${r.port + CLUSTER_PORT_INCR} slave ${masterId} `;
    out += `${now - 1} ${now} ${c.version} connected\n`;
  }
  return out;
}

/** The nodes.conf body: one SETNODES line per node, slots as CLUSTER NODES shows them. */
export function dumpNodesText(node: KvrocksNode): string {
  const slotText = slotTextById(node);
  return iterationOrder(node.cluster.nodes)
    .map((n) => {
      const head = `${n.id} ${n.host} ${n.port} `;
      if (n.role !== "master") return `${head}slave ${n.masterId}`;
      const slots = slotText.get(n.id);
      return `${head}master -${slots ? ` ${slots}` : ""}`;
    })
    .join("\n");
}

interface OwnerRun {
  start: number;
  end: number;
  owner: ClusterNode;
}

/** Maximal runs of consecutive slots held by the same owner record. */
function ownerRuns(node: KvrocksNode): OwnerRun[] {
  const runs: OwnerRun[] = [];
  const owners = node.cluster.slotOwners;
  for (let s = 0; s < SLOT_COUNT; s++) {
    const owner = owners[s] ?? null;
    if (owner === null) continue;
    const last = runs[runs.length - 1];
    if (last && last.owner === owner && last.end === s - 1) last.end = s;
    else runs.push({ start: s, end: s, owner });
  }
  return runs;
}

/**
 * The slot text of the last view asked for, per node table: slot owners change only with
 * the version (SETNODES, SETSLOT) or with a new node table (forced SETNODES, RESET), so a
 * probe asking every second does not walk all 16384 slots each time.
 */
const slotTextMemo = new WeakMap<object, { version: number; text: Map<string, string> }>();

/** Runs grouped by owner id (stale owner records print under the id they carry). */
function slotTextById(node: KvrocksNode): Map<string, string> {
  const c = node.cluster;
  const memo = slotTextMemo.get(c.nodes);
  if (memo && memo.version === c.version) return memo.text;
  const text = computeSlotText(node);
  slotTextMemo.set(c.nodes, { version: c.version, text });
  return text;
}

function computeSlotText(node: KvrocksNode): Map<string, string> {
  const out = new Map<string, string>();
  for (const { start, end, owner } of ownerRuns(node)) {
    const part = start === end ? `${start}` : `${start}-${end}`;
    const prev = out.get(owner.id);
    out.set(owner.id, prev ? `${prev} ${part}` : part);
  }
  return out;
}
