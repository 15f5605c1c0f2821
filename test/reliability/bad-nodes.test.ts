// Nodes that hang, reset connections, answer garbage or answer too slowly: every probe round
// ends within its budget, counts them as failed with the reason, fails their shards over to
// the healthy replicas, and nothing crashes; the HTTP routes that talk to such nodes answer
// 4xx in bounded time.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allNodes, type Cluster, masterOf, ProbeState } from "../../lib/model/index.js";
import { assertConverged, round, simFor } from "../probe/helpers.js";
import { spawnProbe } from "../probe/process.js";
import { type Harness, startHarness } from "../support/harness.js";
import type { Faults, SimNode } from "../support/kvrocks-sim/server.js";

const TIMEOUT_MS = 500;
// cron/probe.ts allows a round ten node timeouts (plus start-up); a round over these
// faults needs one for the probe, then per failed-over shard one for the survey and one for
// the push, so four bad masters can legitimately take up to ~9 timeouts.
const ROUND_BUDGET_MS = 10 * TIMEOUT_MS;

const faults: [string, Partial<Faults>, RegExp][] = [
  ["hangs", { hang: true }, /no answer within 500 ms/],
  ["resets connections", { reset: true }, /ECONNRESET/],
  ["answers garbage", { garbage: true }, /answered something that is not RESP/],
  ["answers too slowly", { delayMs: 3 * TIMEOUT_MS }, /no answer within 500 ms/],
];

let h: Harness;
let nodes: SimNode[];
let before: Cluster;

beforeAll(async () => {
  h = await startHarness({
    label: "badnodes",
    env: {
      KVC_PROBE_TIMEOUT_MS: String(TIMEOUT_MS),
      KVC_NODE_TIMEOUT_MS: String(TIMEOUT_MS),
      KVC_PROBE_FAILURES: "2",
    },
  });
  nodes = await h.startNodes(8);
  // Four shards of master + replica; each master gets one fault (4 of 8 nodes failing is
  // exactly the safe-mode ratio 0.5, which still allows failover).
  before = await h.createCluster("b", "c", nodes, 2);
  // A running probe has seen the masters before they misbehave (one it never saw is not
  // failed over on a guess: test/probe/failover-safety.test.ts).
  await round(h);
}, 30_000);

afterAll(async () => {
  await h?.close();
});

const stateOf = async () =>
  (await h.runtime.store.getDoc(h.runtime.store.keys.probeState("b", "c"), ProbeState))!.value;

describe("nodes that misbehave", () => {
  it("are marked failed within the round budget and their shards fail over", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on("unhandledRejection", onUnhandled);
    try {
      const bad = faults.map(([what, fault, reason], shard) => {
        const master = masterOf(before.shards[shard]!)!;
        simFor(nodes, master.addr).setFault(fault);
        return { what, reason, shard, master };
      });
      // A replica slower than usual but within the deadline is healthy.
      const slowReplica = before.shards[0]!.nodes.find((n) => n.role === "slave")!;
      simFor(nodes, slowReplica.addr).setFault({ delayMs: TIMEOUT_MS / 5 });

      const durations: number[] = [];
      const timed = async () => {
        const started = performance.now();
        const summary = await round(h);
        durations.push(performance.now() - started);
        return summary;
      };

      // Round 1: every bad node counted once, with its reason; nothing failed over yet.
      const first = await timed();
      expect(first.errors).toEqual([]);
      expect(first.reports[0]!.failed).toBe(4);
      expect(first.failovers).toBe(0);
      let state = await stateOf();
      for (const b of bad) {
        const health = state.nodes[b.master.id]!;
        expect({ what: b.what, failures: health.failures }).toEqual({ what: b.what, failures: 1 });
        expect(health.last_error, b.what).toMatch(b.reason);
      }
      expect(state.nodes[slowReplica.id]!.failures).toBe(0);
      const health = await h.request("GET", "/api/v1/namespaces/b/clusters/c/health");
      expect(health.status).toBe(200);
      expect(health.body.data.nodes_down).toBe(4);

      // Round 2 reaches the threshold: each shard fails over to its healthy replica.
      const second = await timed();
      expect(second.errors).toEqual([]);
      expect(second.failovers).toBe(4);
      const after = await h.cluster("b", "c");
      expect(after.version).toBe(before.version + 4);
      for (const b of bad) {
        const shard = after.shards[b.shard]!;
        expect(masterOf(shard)!.id, b.what).not.toBe(b.master.id);
        expect(shard.nodes.find((n) => n.id === b.master.id)!.role).toBe("slave");
      }

      // Round 3: still failing (as replicas now), no more changes, still within budget.
      const third = await timed();
      expect(third.errors).toEqual([]);
      expect(third.failovers).toBe(0);
      expect((await h.cluster("b", "c")).version).toBe(after.version);
      state = await stateOf();
      for (const b of bad) expect(state.nodes[b.master.id]!.failures, b.what).toBe(3);

      console.log(`round durations: ${durations.map((d) => Math.round(d)).join(", ")} ms`);
      for (const d of durations) expect(d).toBeLessThan(ROUND_BUDGET_MS);

      // The real entry point over the same faults: exits 0 inside its budget.
      const run = spawnProbe(h.prefix, ["--once", "--budget", "12s"], {
        KVC_PROBE_TIMEOUT_MS: String(TIMEOUT_MS),
        KVC_NODE_TIMEOUT_MS: String(TIMEOUT_MS),
      });
      const exit = await run.exited;
      expect(exit.code, run.output()).toBe(0);
      expect(run.output()).not.toMatch(/unhandled|Unhandled|TypeError|ReferenceError/);

      // Healed: the next round sees every node alive and brings the old masters in line.
      for (const n of nodes) n.setFault({ hang: false, reset: false, garbage: false, delayMs: 0 });
      await round(h);
      await round(h);
      const healed = await h.cluster("b", "c");
      expect(assertConverged(nodes, healed)).toEqual([]);
      expect(Object.values((await stateOf()).nodes).map((n) => n.failures)).toEqual(
        Array(8).fill(0),
      );
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      for (const n of nodes) n.setFault({ hang: false, reset: false, garbage: false, delayMs: 0 });
    }
  }, 60_000);

  it.each(faults)(
    "the routes that talk to a node that %s answer 4xx in bounded time",
    async (what, fault) => {
      const [node] = await h.startNodes(1);
      node!.setFault(fault);
      const cluster = await h.cluster("b", "c");
      const shard = cluster.shards[0]!;
      const answers: [string, { status: number; text: string }, number][] = [];
      const timed = async (label: string, method: string, path: string, body?: unknown) => {
        const started = performance.now();
        const answer = await h.request(method, path, body);
        answers.push([label, answer, performance.now() - started]);
      };
      // A new cluster is checked node by node: the bad node makes it a 400.
      await timed("create cluster", "POST", "/api/v1/namespaces/b/clusters", {
        name: "other",
        nodes: [node!.addr],
      });
      // Import reads the node's own view.
      await timed("import", "POST", "/api/v1/namespaces/b/clusters/imp/import", {
        nodes: [node!.addr],
      });
      // The bad node as a replica: a failover that prefers it is refused.
      const added = await h.request("POST", "/api/v1/namespaces/b/clusters/c/shards/0/nodes", {
        addr: node!.addr,
      });
      expect(added.status).toBe(201);
      await timed("failover to it", "POST", "/api/v1/namespaces/b/clusters/c/shards/0/failover", {
        preferred_node_id: added.body.data,
      });
      // Sync reports the node that did not take the topology, and succeeds for the rest.
      const sync = await h.request("POST", "/api/v1/namespaces/b/clusters/c/sync", {});
      expect(sync.status).toBe(200);
      const failed = sync.body.data.results.filter((r: { ok: boolean }) => !r.ok);
      expect(failed.map((r: { addr: string }) => r.addr)).toContain(node!.addr);
      const removed = await h.request(
        "DELETE",
        `/api/v1/namespaces/b/clusters/c/shards/0/nodes/${added.body.data}`,
      );
      expect(removed.status).toBe(204);
      // The refused failover left the shard's master in place, and the node is gone again.
      const after = await h.cluster("b", "c");
      expect(masterOf(after.shards[0]!)!.id).toBe(masterOf(shard)!.id);
      expect(allNodes(after).map((n) => n.addr)).not.toContain(node!.addr);

      for (const [label, answer, ms] of answers) {
        expect({ what, label, status: answer.status }).toEqual({ what, label, status: 400 });
        expect(JSON.parse(answer.text).error.message, label).toContain(node!.addr);
        // A call to a node is bounded by the node timeout; a route makes a few in a row.
        expect(ms, label).toBeLessThan(4 * TIMEOUT_MS);
      }
      node!.setFault({ hang: false, reset: false, garbage: false, delayMs: 0 });
    },
    20_000,
  );
});
