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
  if (stillSleeping(node, master)) return null;
  // A new link authenticates with masterauth (Kvrocks: refused, it retries 10 s later, link
  // down); a link already up is not asked again when either password changes.
  const masterauth = node.settings.get("masterauth") ?? node.config.password;
  if (
    node.repl.attachedTo !== master &&
    master.config.password !== "" &&
    masterauth !== master.config.password
  )
    return null;
  // Never close a loop of replicas: writes would circle forever.
  for (let up: KvrocksNode | null = master; up; up = up.repl.attachedTo) {
    if (up === node) return null;
  }
  return master;
}

/**
 * With `replicaStopSleeps`, as Kvrocks 2.10.1: a replica whose master died (`lostAt`) tries
 * to reconnect only at whole seconds after the death (its thread sleeps in 1 s steps), and
 * attaches at the first such try after the master is back, whatever the master now holds
 * (measured: a master restarted empty 100 ms after its death, answering ≈ 0.6 s, was
 * full-synced by its replica at ≈ 1.05 s; one back at 2.19 s, at ≈ 3.1 s). Until then the
 * link stays down; a timer reconciles at that try.
 */
function stillSleeping(node: KvrocksNode, master: KvrocksNode): boolean {
  const lostAt = node.repl.lostAt;
  if (!node.config.replicaStopSleeps || lostAt === null) return false;
  const tries = Math.max(1, Math.ceil((master.startedAt - lostAt) / 1000));
  const due = lostAt + tries * 1000 - Date.now();
  if (due <= 0) return false;
  setTimeout(reconcileReplication, due + 1).unref();
  return true;
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
