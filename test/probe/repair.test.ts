import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withNode } from "../../lib/kvrocks/index.js";
import { bumpVersion } from "../../lib/ops/index.js";
import { PROBE_ROUND_SCHEMAS, type ProbeRoundRead, probeCluster } from "../../lib/probe/index.js";
import { renderSetNodes } from "../../lib/topology/index.js";
import { type Harness, startHarness } from "../support/harness.js";
import { nodeView, type TestNode } from "../support/nodes.js";
import { converged, probeDeps, round, simFor } from "./helpers.js";

let h: Harness;
let nodes: TestNode[];

beforeAll(async () => {
  h = await startHarness({ label: "repair" });
  nodes = await h.startTestNodes(6);
  await h.createCluster("r", "c", nodes, 2);
  // Move the version past 1 so there is an older topology to push by hand.
  await h.request("POST", "/api/v1/namespaces/r/clusters/c/migrate", {
    target: 1,
    slot: 0,
    slot_only: true,
  });
  await h.request("POST", "/api/v1/namespaces/r/clusters/c/migrate", {
    target: 0,
    slot: 0,
    slot_only: true,
  });
});
afterAll(async () => h.close());

describe("drift repair", () => {
  it("pushes the stored topology to a node that was given an old one by hand", async () => {
    const cluster = await h.cluster("r", "c");
    const victim = simFor(nodes, cluster.shards[0]!.nodes[0]!.addr);
    await withNode(victim.addr, {}, (c) =>
      c.setNodes(renderSetNodes({ ...cluster, version: 1 }), 1, true),
    );
    expect((await nodeView(victim)).version).toBe(1);
    const summary = await round(h);
    expect(summary.reports[0]!.repairs.map((r) => [r.addr, r.reason, r.ok])).toEqual([
      [victim.addr, "behind", true],
    ]);
    expect(await converged(nodes, cluster)).toEqual([]);
  });

  it("repairs a node that holds a different view at the same version, with a new version", async () => {
    const cluster = await h.cluster("r", "c");
    const victim = simFor(nodes, cluster.shards[1]!.nodes[1]!.addr);
    const wrong = {
      ...cluster,
      shards: [cluster.shards[1]!, cluster.shards[0]!, cluster.shards[2]!],
    };
    // Same version, but shard 0 and 1 swapped slot ownership in this node's mind.
    wrong.shards = wrong.shards.map((s, i) => ({
      ...s,
      slot_ranges: cluster.shards[i]!.slot_ranges,
    }));
    await withNode(victim.addr, {}, (c) =>
      c.setNodes(renderSetNodes(wrong), cluster.version, true),
    );
    const summary = await round(h);
    expect(summary.reports[0]!.repairs.map((r) => [r.addr, r.reason])).toEqual([
      [victim.addr, "drift"],
    ]);
    const view = await withNode(victim.addr, {}, (c) => c.clusterNodes());
    const master0 = cluster.shards[0]!.nodes[0]!;
    expect(view.find((l) => l.id === master0.id)?.slots).toEqual(cluster.shards[0]!.slot_ranges);
  });

  it("initializes a node that lost its topology", async () => {
    const cluster = await h.cluster("r", "c");
    const victim = simFor(nodes, cluster.shards[2]!.nodes[1]!.addr);
    // Hard reset: the node comes back empty, as a replaced machine would.
    await victim.restartEmpty();
    expect((await nodeView(victim)).version).toBe(-1);
    const summary = await round(h);
    expect(summary.reports[0]!.repairs.map((r) => r.reason)).toContain("not_initialized");
    expect(await converged(nodes, cluster)).toEqual([]);
  });

  it("reports and never adopts a node that claims a newer version", async () => {
    const cluster = await h.cluster("r", "c");
    const victim = simFor(nodes, cluster.shards[0]!.nodes[1]!.addr);
    await withNode(victim.addr, {}, (c) =>
      c.setNodes(renderSetNodes(cluster), cluster.version + 5, true),
    );
    const summary = await round(h);
    expect(summary.reports[0]!.ahead).toEqual({
      [cluster.shards[0]!.nodes[1]!.id]: cluster.version + 5,
    });
    expect((await h.cluster("r", "c")).version).toBe(cluster.version);
    const health = await h.request("GET", "/api/v1/namespaces/r/clusters/c/health");
    expect(health.body.data.ahead).toEqual({
      [cluster.shards[0]!.nodes[1]!.id]: cluster.version + 5,
    });
  });
});

describe("repair from a read taken before a change", () => {
  let fresh: TestNode[];
  const ref = { namespace: "r", cluster: "s" };
  const readAhead = async () =>
    (await h.runtime.store.readClusterRounds([ref], PROBE_ROUND_SCHEMAS)).get("r/s")!;
  const probeWith = (pre: ProbeRoundRead) =>
    probeCluster(probeDeps(h), "r", "s", h.settings, undefined, undefined, pre);

  beforeAll(async () => {
    fresh = await h.startTestNodes(4);
    await h.createCluster("r", "s", fresh, 2);
  });

  it("never pushes a topology older than the one etcd holds now", async () => {
    const pre = await readAhead();
    const victim = simFor(fresh, pre.cluster!.cluster.shards[1]!.nodes[1]!.addr);
    await victim.restartEmpty();
    // Committed (not yet pushed) after the round read its inputs with other clusters'.
    const newer = await h.runtime.store.updateCluster("r", "s", (c) => bumpVersion(c));
    const report = await probeWith(pre);
    expect(report.repairs).toEqual([]);
    expect((await nodeView(victim)).version).toBe(-1);
    // The next round reads the new topology and repairs with it.
    const summary = await round(h);
    const repaired = summary.reports.find((r) => r.cluster === "s")!.repairs;
    expect(repaired.map((r) => [r.addr, r.reason, r.ok])).toContainEqual([
      victim.addr,
      "not_initialized",
      true,
    ]);
    expect((await nodeView(victim)).version).toBe(newer.cluster.version);
  });

  it("pushes nothing while a switchover began after the round read its inputs", async () => {
    const pre = await readAhead();
    const victim = simFor(fresh, pre.cluster!.cluster.shards[0]!.nodes[1]!.addr);
    await victim.restartEmpty();
    const marker = await h.runtime.store.beginSwitchover("r", "s", 10);
    expect(marker).not.toBeNull();
    try {
      const report = await probeWith(pre);
      expect(report.repairs).toEqual([]);
      expect((await nodeView(victim)).version).toBe(-1);
    } finally {
      await marker!.release();
    }
    await round(h);
    expect((await nodeView(victim)).version).toBe(pre.cluster!.cluster.version);
  });
});
