// Safe mode counts only the nodes that answered the round before (issue 22, item 7): a node
// down for maintenance long ago is not evidence that the probe is cut off, so it must not turn
// a dead master into "2 of 3 failing" and hold its failover back. A real split still holds it,
// for as long as it lasts. Runs on real Kvrocks when KVROCKS_BIN is set, on the simulator otherwise.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { masterOf, ProbeState } from "../../lib/model/index.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import type { TestNode } from "../support/nodes.js";
import { converged, round, rounds } from "./helpers.js";

let h: Harness;
let nodes: TestNode[];
let master: TestNode;
let maintained: TestNode;
let replica: TestNode;

beforeEach(async () => {
  h = await startHarness({ label: "safe-mode", env: { KVC_PROBE_FAILURES: "3" } });
  nodes = await h.startTestNodes(3);
  // One shard: a master and two replicas.
  const cluster = await h.createCluster("s", "c", nodes, 3);
  const shard = cluster.shards[0]!;
  const at = (addr: string) => nodes.find((n) => n.addr === addr)!;
  master = at(masterOf(shard)!.addr);
  const replicas = shard.nodes.filter((n) => n.role === "slave").map((n) => at(n.addr));
  maintained = replicas[0]!;
  replica = replicas[1]!;
  for (const r of replicas)
    await eventually(
      async () => /master_link_status:up/.test(String(await r.call("INFO", "replication"))),
      30_000,
      100,
    );
  await round(h);
}, 60_000);
afterEach(async () => h.close());

const probeState = async () =>
  (await h.runtime.store.getDoc(h.runtime.store.keys.probeState("s", "c"), ProbeState))?.value;

describe("safe mode", () => {
  it("does not count a replica down for maintenance: the dead master is failed over", async () => {
    await maintained.kill();
    await rounds(h, 3);
    expect((await probeState())?.safe_mode).toBe(false);

    await master.kill();
    const summaries = await rounds(h, 4);
    expect(summaries.flatMap((s) => s.reports.map((r) => r.safeMode))).not.toContain(true);
    const after = await h.cluster("s", "c");
    expect(masterOf(after.shards[0]!)!.addr).toBe(replica.addr);
    expect(await converged(nodes, after)).toEqual([]);
  }, 120_000);

  it("holds while every node that answered before is cut off, a node down long before included", async () => {
    await maintained.kill();
    await rounds(h, 3);
    const before = await h.cluster("s", "c");

    // The probe loses both nodes that still answered: as a split from the probe looks.
    await master.kill();
    await replica.kill();
    for (let i = 0; i < 5; i++) {
      await round(h);
      const state = await probeState();
      expect(state?.safe_mode, `round ${i + 1}`).toBe(true);
      expect(state?.safe_mode_reason).toMatch(
        /2 of 2 nodes failed at once .*1 already down before not counted/,
      );
    }
    expect((await h.cluster("s", "c")).version).toBe(before.version);

    await master.restart();
    await replica.restart();
    await round(h);
    expect((await probeState())?.safe_mode).toBe(false);
    expect(masterOf((await h.cluster("s", "c")).shards[0]!)!.addr).toBe(master.addr);
  }, 120_000);
});
