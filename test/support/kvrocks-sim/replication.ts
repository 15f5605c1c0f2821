// Master/replica links between simulated nodes. A replica attaches when its master runs and
// answers: it takes a full copy of the master's data and sequence (full sync), then gets
// every write as it is applied. When the master stops or hangs, the link goes down and the
// replica keeps what it has. One function decides every link from the nodes' current state,
// so callers just call it after anything that could matter.

import type { KvrocksNode } from "./node.js";
import { allNodes, lookupNode } from "./registry.js";
import type { WriteOp } from "./store.js";

export function reconcileReplication(): void {
  // A few passes settle chains (a replica of a replica) whatever the registry order.
  for (let pass = 0; pass < 8; pass++) {
    let changed = false;
    for (const node of allNodes()) changed = reconcileOne(node) || changed;
    if (!changed) return;
  }
}

/** Sends an applied write to the node's attached replicas. */
export function propagate(from: KvrocksNode, op: WriteOp): void {
  for (const replica of from.replicas) {
    replica.repl.lastIoMs = Date.now();
    replica.store.apply(op);
  }
}

function reconcileOne(node: KvrocksNode): boolean {
  const want = desiredMaster(node);
  const cur = node.repl.attachedTo;
  if (cur === want && (want === null || node.repl.attachedBootId === want.bootId)) return false;
  if (cur) detach(node, cur);
  if (want) attach(node, want);
  return true;
}

function desiredMaster(node: KvrocksNode): KvrocksNode | null {
  if (!node.running || !node.isSlave() || node.faults.fullSync) return null;
  const master = lookupNode(node.repl.masterHost, node.repl.masterPort);
  if (!master?.servesPeers()) return null;
  // Never close a loop of replicas: writes would circle forever.
  for (let up: KvrocksNode | null = master; up; up = up.repl.attachedTo) {
    if (up === node) return null;
  }
  return master;
}

function attach(node: KvrocksNode, master: KvrocksNode): void {
  master.replicas.push(node);
  master.stats.syncFull++;
  node.repl.attachedTo = master;
  node.repl.attachedBootId = master.bootId;
  node.repl.lostAt = null;
  fullSync(node, master, new Set());
}

function fullSync(node: KvrocksNode, master: KvrocksNode, seen: Set<KvrocksNode>): void {
  if (seen.has(node)) return;
  seen.add(node);
  node.store.replaceWith(master.store.snapshot());
  node.repl.lastIoMs = Date.now();
  for (const r of node.replicas) fullSync(r, node, seen);
}

function detach(node: KvrocksNode, master: KvrocksNode): void {
  const i = master.replicas.indexOf(node);
  if (i >= 0) master.replicas.splice(i, 1);
  node.repl.attachedTo = null;
  // A dead master closes the replication connection: the replica's thread starts sleeping.
  if (!master.running) node.repl.lostAt ??= Date.now();
}
