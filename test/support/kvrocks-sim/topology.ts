// The SETNODES text and the node records Kvrocks builds from it. Validation follows
// Cluster::parseClusterNodes line by line: the first faulty line decides the error, and
// much that looks wrong (unknown master, non-hex id, slots left unowned) is accepted.

import { parseCInt, parseCIntInRange } from "./c-int.js";
import { errorOf } from "./errors.js";
import { SLOT_COUNT } from "./keyslot.js";
import { NO_RANGE, type SlotRange, splitAny } from "./slot-range.js";

export const NODE_ID_LEN = 40;
export const CLUSTER_PORT_INCR = 10000;

export type ClusterRole = "master" | "slave";

/** Kvrocks measures ids in bytes. */
export const isNodeIdLength = (id: string): boolean => Buffer.byteLength(id) === NODE_ID_LEN;

/**
 * One node of a topology. Kvrocks compares these by identity, not by id: slots that a new
 * SETNODES does not mention keep pointing at the previous topology's record.
 */
export class ClusterNode {
  readonly slots = new Set<number>();
  readonly replicas: string[] = [];
  /** Set on this node's own record while it imports (CLUSTER IMPORT start). */
  importingRange: SlotRange = NO_RANGE;

  constructor(
    readonly id: string,
    readonly host: string,
    readonly port: number,
    readonly role: ClusterRole,
    readonly masterId: string,
  ) {}
}

export interface ParsedTopology {
  /** In text order; Kvrocks keeps them in a hash map, see `iterationOrder`. */
  nodes: Map<string, ClusterNode>;
  /** slot -> owning master id, only for slots the text names. */
  slotOwners: Map<number, string>;
}

const NODE_ID_RE = /^[a-fA-F0-9]{40}$/;

export function parseClusterNodes(text: string): ParsedTopology {
  const lines = splitAny(text, "\n");
  if (lines.length === 0) throw errorOf("Invalid cluster nodes info");
  const nodes = new Map<string, ClusterNode>();
  const slotOwners = new Map<number, string>();

  for (const line of lines) {
    const fields = splitAny(line, " ");
    if (fields.length < 5) throw errorOf("Invalid cluster nodes info");
    const [id, host, portText, roleText, masterId] = fields as [
      string,
      string,
      string,
      string,
      string,
    ];
    if (!isNodeIdLength(id)) throw errorOf("Invalid cluster node id");

    const port = parseCInt(portText, "uint16");
    if (!port.ok) throw errorOf("Invalid cluster node port");

    const roleLower = roleText.toLowerCase();
    let role: ClusterRole;
    if (roleLower === "master") role = "master";
    else if (roleLower === "slave" || roleLower === "replica") role = "slave";
    else throw errorOf("Invalid cluster node role");

    if (
      (role === "master" && masterId !== "-") ||
      (role === "slave" && !isNodeIdLength(masterId))
    ) {
      throw errorOf("Invalid cluster node id");
    }

    const node = new ClusterNode(id, host, Number(port.value), role, masterId);
    if (role === "slave") {
      if (fields.length !== 5) throw errorOf("Invalid cluster nodes info");
      nodes.set(id, node);
      continue;
    }

    for (const field of fields.slice(5)) {
      for (const slot of slotsOfField(field)) {
        node.slots.add(slot);
        if (slotOwners.has(slot)) throw errorOf("Slot distribution is overlapped");
        slotOwners.set(slot, id);
      }
    }
    nodes.set(id, node);
  }
  return { nodes, slotOwners };
}

/** One slot field of a master line: "N" or "A-B" with A < B (Kvrocks refuses "5-5"). */
function slotsOfField(field: string): number[] {
  const parts = splitAny(field, "-");
  if (parts.length === 1) {
    if (NODE_ID_RE.test(field)) {
      throw errorOf("Invalid nodes definition: Missing newline between node entries.");
    }
    const n = parseCIntInRange(parts[0]!, "int32", 0, SLOT_COUNT - 1);
    if (!n.ok) throw errorOf("Slot is out of range");
    return [Number(n.value)];
  }
  if (parts.length === 2) {
    const a = parseCIntInRange(parts[0]!, "int32", 0, SLOT_COUNT - 1);
    const b = parseCIntInRange(parts[1]!, "int32", 0, SLOT_COUNT - 1);
    if (!a.ok || !b.ok || a.value >= b.value) throw errorOf("Slot is out of range");
    const out: number[] = [];
    for (let s = Number(a.value); s <= Number(b.value); s++) out.push(s);
    return out;
  }
  throw errorOf("Slot is out of range");
}

/**
 * Kvrocks iterates its node map in hash order (libstdc++ unordered_map); for the small
 * maps seen in practice that is usually the reverse of insertion, which is what the real
 * transcript shows. Anything that prints or walks nodes uses this order.
 */
export const iterationOrder = (nodes: Map<string, ClusterNode>): ClusterNode[] =>
  [...nodes.values()].reverse();
