import { allNodes, type Cluster, masterOf } from "../../lib/model/index.js";
import {
  type ProbeInvocation,
  type ProbeRunDeps,
  probeAllClusters,
  type RoundSummary,
} from "../../lib/probe/index.js";
import type { Harness } from "../support/harness.js";
import { keySlot } from "../support/kvrocks-sim/keyslot.js";
import type { SimNode } from "../support/kvrocks-sim/server.js";
import { nodeView, type TestNode } from "../support/nodes.js";

export function probeDeps(h: Harness): ProbeRunDeps {
  return { ...h.runtime.ops, etcd: h.etcd, nodePool: h.nodePool };
}

/**
 * One probe round over every cluster of the harness: as `--once` runs it, or, given an
 * invocation, as one round of a running `--for` invocation (clusters kept between rounds).
 */
export function round(h: Harness, invocation?: ProbeInvocation): Promise<RoundSummary> {
  return probeAllClusters(probeDeps(h), h.settings, undefined, invocation);
}

export async function rounds(h: Harness, n: number): Promise<RoundSummary[]> {
  const out: RoundSummary[] = [];
  for (let i = 0; i < n; i++) out.push(await round(h));
  return out;
}

export function simFor<N extends { addr: string }>(nodes: readonly N[], addr: string): N {
  const node = nodes.find((n) => n.addr === addr);
  if (!node) throw new Error(`no sim node at ${addr}`);
  return node;
}

export function masterSim<N extends { addr: string }>(
  nodes: readonly N[],
  cluster: Cluster,
  shard: number,
): N {
  return simFor(nodes, masterOf(cluster.shards[shard]!)!.addr);
}

/** Every shard has one master, and every running node holds the stored version and view. */
export function assertConverged(nodes: readonly SimNode[], cluster: Cluster): string[] {
  const problems: string[] = [];
  for (const [i, shard] of cluster.shards.entries()) {
    const masters = shard.nodes.filter((n) => n.role === "master").length;
    if (masters !== 1) problems.push(`shard ${i} has ${masters} masters`);
  }
  for (const node of allNodes(cluster)) {
    const sim = simFor(nodes, node.addr);
    if (!sim.running) continue;
    if (sim.state.version !== cluster.version) {
      problems.push(`${node.addr} at version ${sim.state.version}, stored ${cluster.version}`);
    }
    if (sim.state.role !== node.role)
      problems.push(`${node.addr} is ${sim.state.role}, stored ${node.role}`);
  }
  return problems;
}

/** `assertConverged` for real or simulated nodes, read over the wire. */
export async function converged(nodes: readonly TestNode[], cluster: Cluster): Promise<string[]> {
  const problems: string[] = [];
  for (const [i, shard] of cluster.shards.entries()) {
    const masters = shard.nodes.filter((n) => n.role === "master").length;
    if (masters !== 1) problems.push(`shard ${i} has ${masters} masters`);
  }
  for (const node of allNodes(cluster)) {
    const test = simFor(nodes, node.addr);
    if (!test.running) continue;
    const view = await nodeView(test);
    if (view.version !== cluster.version) {
      problems.push(`${node.addr} at version ${view.version}, stored ${cluster.version}`);
    }
    if (view.role !== node.role) problems.push(`${node.addr} is ${view.role}, stored ${node.role}`);
  }
  return problems;
}

/** A key whose slot the shard owns, so writes to its master are accepted. */
export function keyFor(cluster: Cluster, shard: number, tag = "k"): string {
  const ranges = cluster.shards[shard]!.slot_ranges;
  for (let i = 0; i < 100_000; i++) {
    const key = `${tag}${i}`;
    const slot = keySlot(key);
    if (ranges.some((r) => slot >= r.start && slot <= r.stop)) return key;
  }
  throw new Error(`no key found for shard ${shard}`);
}
