// Shared pieces of the store tests: clients on the shared etcd under a private prefix,
// and small valid clusters.
import { createHash } from "node:crypto";
import type { Etcd3 } from "etcd3";
import { afterEach } from "vitest";
import type { Cluster, ClusterNode } from "../../lib/model/index.js";
import { evenSplit } from "../../lib/slots/index.js";
import { closeEtcd, createEtcd, Store } from "../../lib/store/index.js";
import { sharedEtcdEndpoints, uniquePrefix } from "../support/env.js";

/** A 40-character node id derived from the address, so tests can predict it. */
export const nodeId = (addr: string) => createHash("sha1").update(addr).digest("hex");

export function node(addr: string, role: ClusterNode["role"] = "slave"): ClusterNode {
  return { id: nodeId(addr), addr, role, password: "", created_at: 0 };
}

/** One shard per entry; the first address of each shard is its master. */
export function makeCluster(name: string, shards: string[][], version = 1): Cluster {
  const ranges = evenSplit(shards.length);
  return {
    name,
    version,
    shards: shards.map((addrs, i) => ({
      nodes: addrs.map((addr, j) => node(addr, j === 0 ? "master" : "slave")),
      slot_ranges: [ranges[i]!],
      target_shard_index: -1,
      migrating_slot: null,
    })),
  };
}

const opened: Etcd3[] = [];
afterEach(() => {
  for (const etcd of opened.splice(0)) closeEtcd(etcd);
});

/** A client on the shared etcd, closed after the current test. */
export function sharedClient(options: { callTimeoutMs?: number } = {}): Etcd3 {
  const etcd = createEtcd({ endpoints: sharedEtcdEndpoints(), ...options });
  opened.push(etcd);
  return etcd;
}

/** A store under a prefix no other test uses, plus its client. */
export function freshStore(label = "store"): { store: Store; etcd: Etcd3; prefix: string } {
  const etcd = sharedClient();
  const prefix = uniquePrefix(label);
  return { store: new Store(etcd, prefix), etcd, prefix };
}

/** Runs `fn` and returns what it threw (fails the test if it did not throw). */
export async function caught(fn: () => Promise<unknown>): Promise<Error & { kind?: string }> {
  try {
    await fn();
  } catch (err) {
    return err as Error & { kind?: string };
  }
  throw new Error("expected an error, got none");
}
