import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { allNodes, masterOf } from "../../lib/model/index.js";
import { listHistory } from "../../lib/ops/index.js";
import { type Harness, startHarness } from "../support/harness.js";
import type { SimNode } from "../support/kvrocks-sim/server.js";
import { assertConverged, masterSim, round, simFor } from "./helpers.js";
import { spawnProbe } from "./process.js";

let h: Harness;
let nodes: SimNode[];

beforeEach(async () => {
  h = await startHarness({ label: "inv" });
  nodes = await h.startNodes(6);
  await h.createCluster("i", "c", nodes, 2);
  // A running probe has seen the masters before one dies (one it never saw is not failed
  // over on a guess: failover-safety.test.ts).
  await round(h);
});
afterEach(async () => h.close());

describe("probe invocations", () => {
  it("five invocations started at once fail a dead master over exactly once", async () => {
    const before = await h.cluster("i", "c");
    await masterSim(nodes, before, 0).stop();
    const env = { KVC_PROBE_INTERVAL_MS: "200", KVC_PROBE_FAILURES: "3" };
    const runs = Array.from({ length: 5 }, () =>
      spawnProbe(h.prefix, ["--for", "4s", "--every", "200ms"], env),
    );
    const results = await Promise.all(runs.map((r) => r.exited));
    expect(
      results.map((r) => r.code),
      runs.map((r) => r.output()).join("\n"),
    ).toEqual([0, 0, 0, 0, 0]);
    const after = await h.cluster("i", "c");
    expect(after.version).toBe(before.version + 1);
    expect(await listHistory(h.runtime.store, "i", "c")).toHaveLength(1);
    expect(assertConverged(nodes, after)).toEqual([]);
    expect(runs.map((r) => r.output()).join("")).toMatch(
      /probe: clusters 1, probed \d, skipped \d/,
    );
    // Five processes start on a small shared machine: generous, the outcome is what counts.
  }, 90_000);

  it("a node that accepts connections and never answers does not hold the round past its budget", async () => {
    const cluster = await h.cluster("i", "c");
    simFor(nodes, cluster.shards[1]!.nodes[1]!.addr).setFault({ hang: true });
    const started = Date.now();
    const summary = await round(h);
    expect(Date.now() - started).toBeLessThan(3 * 1000);
    expect(summary.reports[0]!.failed).toBe(1);
    const run = spawnProbe(h.prefix, ["--once", "--budget", "8s"]);
    const exit = await run.exited;
    expect(exit.code, run.output()).toBe(0);
    // The round itself, as the probe reports it: process start-up (tsx) is not the budget's.
    const roundMs = Number(/ in (\d+) ms/.exec(run.output())?.[1]);
    expect(roundMs, run.output()).toBeLessThan(8000);
  }, 40_000);

  // Points in a failover where a killed run leaves the most behind: after it counted the
  // failure, right after it committed the new topology (push under way), after the history.
  it.each([
    ["after the probe state is written", "/state/i/c/probe"],
    ["right after the new topology is committed", "/metadata/i/cluster/c"],
    ["after the history entry", "/state/i/c/history/"],
  ])(
    "a run killed with SIGKILL %s leaves a consistent cluster for the next run",
    async (_point, keyPart) => {
      const before = await h.cluster("i", "c");
      // Slow replies widen the window between commit and the end of the push.
      for (const n of nodes) n.setFault({ delayMs: 150 });
      await masterSim(nodes, before, 2).stop();
      const watcher = await h.etcd.watch().prefix(h.prefix).create();
      const run = spawnProbe(h.prefix, ["--for", "10s", "--every", "100ms"], {
        KVC_PROBE_INTERVAL_MS: "100",
        KVC_PROBE_FAILURES: "2",
      });
      await new Promise<void>((resolve) => {
        watcher.on("put", (kv) => {
          if (kv.key.toString().includes(keyPart)) {
            run.child.kill("SIGKILL");
            resolve();
          }
        });
      });
      await watcher.cancel();
      const killed = await run.exited;
      expect(killed.signal).toBe("SIGKILL");
      for (const n of nodes) n.setFault({ delayMs: 0 });

      // The killed run's lock lease must expire before the next run may take the cluster.
      await new Promise((r) => setTimeout(r, 5500));
      const next = spawnProbe(h.prefix, ["--for", "1s", "--every", "100ms"], {
        KVC_PROBE_INTERVAL_MS: "100",
        KVC_PROBE_FAILURES: "2",
      });
      expect((await next.exited).code, next.output()).toBe(0);
      const after = await h.cluster("i", "c");
      expect(assertConverged(nodes, after)).toEqual([]);
      expect(masterOf(after.shards[2]!)!.addr).not.toBe(masterOf(before.shards[2]!)!.addr);
      expect(after.version).toBe(before.version + 1);
      expect(allNodes(after)).toHaveLength(6);
    },
    40_000,
  );
});
