// A topology change asks the nodes about recorded migrations, commits, then pushes: a
// migration the nodes complete between that question and the push must not be handed back
// to its source by the push. Through the real HTTP app, on real nodes (`npm run
// test:kvrocks`) and on the simulator; the window is held open by the deps' test seam.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseClusterInfo, withNode } from "../../lib/kvrocks/index.js";
import { withRangeMoved } from "../../lib/ops/index.js";
import { probeAllClusters } from "../../lib/probe/index.js";
import { formatSlotRanges } from "../../lib/slots/index.js";
import { renderSetNodes } from "../../lib/topology/index.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import type { TestNode } from "../support/nodes.js";
import { loadNodes, slotsOf, tagsForSlots, testMaster, valueOn } from "./helpers.js";

let h: Harness;
const NS = "window";
const api = (cl: string) => `/api/v1/namespaces/${NS}/clusters/${cl}`;

beforeAll(async () => {
  h = await startHarness({
    label: "window",
    env: { KVC_MIGRATION_TIMEOUT: "60000", KVC_PROBE_FAILURES: "1000000" },
  });
});
afterAll(async () => h.close());

describe("a migration completed between a change's commit and its push", () => {
  it("is folded into what is pushed: the target keeps serving the range", async () => {
    // About 4 s of copying on either kind of node, so the commit sees it still running.
    const nodes = await h.startTestNodes(2, {
      config: { "migrate-speed": "5" },
      simulator: { migrationDelayMs: 3000 },
    });
    const cluster = await h.createCluster(NS, "b1", nodes, 1);
    const tags = [...tagsForSlots(slotsOf(["650-660"])).values()];
    const keys = tags.flatMap((t) => [`{${t}}:a`, `{${t}}:b`]);
    const data = await loadNodes(nodes, cluster, keys);
    const src = testMaster(nodes, cluster, 0);

    const res = await h.request("POST", `${api("b1")}/migrate`, { target: 1, slot: "650-660" });
    expect(res.status, res.text).toBe(202);
    expect(res.body.data.task).toMatchObject({ in_flight: "650-660", in_flight_sent: true });

    // The next change's push waits, after its commit, until the source says success.
    let held = false;
    h.runtime.ops.beforePush = async () => {
      h.runtime.ops.beforePush = undefined;
      held = true;
      await eventually(
        async () =>
          parseClusterInfo(String(await src.call("CLUSTER", "INFO"))).migrating?.state ===
          "success",
        30_000,
        50,
      );
    };
    try {
      // Any change through updateTopology: a forced sync (version raised, pushed to all).
      const sync = await h.request("POST", `${api("b1")}/sync`, { force: true });
      expect(sync.status, sync.text).toBe(200);
    } finally {
      h.runtime.ops.beforePush = undefined;
    }
    expect(held).toBe(true);

    const after = await h.cluster(NS, "b1");
    expect(formatSlotRanges(after.shards[1]!.slot_ranges)).toEqual(["650-660", "8192-16383"]);
    expect(after.shards[0]!.migrating_slot).toBeNull();
    // The nodes took that: the target serves the range, and takes writes to it.
    const dst = testMaster(nodes, after, 1);
    for (const k of keys) expect(await valueOn(dst, k), k).toBe(data.get(k));
    expect(await dst.call("SET", keys[0]!, "new")).toBe("OK");
  });
});

describe("a node taken over with force while a migration runs", () => {
  it("is added with a push that folds the migration completed after the commit", async () => {
    const nodes = await h.startTestNodes(3, {
      config: { "migrate-speed": "5" },
      simulator: { migrationDelayMs: 3000 },
    });
    const [a, b, left] = nodes as [TestNode, TestNode, TestNode];
    // A node a deleted cluster left initialised: adding it needs force, and its first push
    // may take it over.
    await h.createCluster(NS, "gone", [left], 1);
    expect((await h.request("DELETE", api("gone"))).status).toBe(204);
    const cluster = await h.createCluster(NS, "b2", [a, b], 1);
    const tags = [...tagsForSlots(slotsOf(["650-660"])).values()];
    const keys = tags.flatMap((t) => [`{${t}}:a`, `{${t}}:b`]);
    const data = await loadNodes([a, b], cluster, keys);
    const src = testMaster([a, b], cluster, 0);

    const res = await h.request("POST", `${api("b2")}/migrate`, { target: 1, slot: "650-660" });
    expect(res.status, res.text).toBe(202);

    let held = false;
    h.runtime.ops.beforePush = async () => {
      h.runtime.ops.beforePush = undefined;
      held = true;
      await eventually(
        async () =>
          parseClusterInfo(String(await src.call("CLUSTER", "INFO"))).migrating?.state ===
          "success",
        30_000,
        50,
      );
    };
    try {
      const added = await h.request("POST", `${api("b2")}/shards/1/nodes`, {
        addr: left.addr,
        role: "slave",
        force: true,
      });
      expect(added.status, added.text).toBe(201);
    } finally {
      h.runtime.ops.beforePush = undefined;
    }
    expect(held).toBe(true);

    const after = await h.cluster(NS, "b2");
    expect(formatSlotRanges(after.shards[1]!.slot_ranges)).toEqual(["650-660", "8192-16383"]);
    const dst = testMaster(nodes, after, 1);
    for (const k of keys) expect(await valueOn(dst, k), k).toBe(data.get(k));
    expect(await dst.call("SET", keys[0]!, "new")).toBe("OK");
  });
});

describe("a drift repaired while a migration runs", () => {
  it("is pushed with the migration completed after the repair's commit folded in", async () => {
    const nodes = await h.startTestNodes(4, {
      config: { "migrate-speed": "5" },
      simulator: { migrationDelayMs: 3000 },
    });
    const cluster = await h.createCluster(NS, "b3", nodes, 2);
    const tags = [...tagsForSlots(slotsOf(["650-660"])).values()];
    const keys = tags.flatMap((t) => [`{${t}}:a`, `{${t}}:b`]);
    const data = await loadNodes(nodes, cluster, keys);
    const src = testMaster(nodes, cluster, 0);

    const res = await h.request("POST", `${api("b3")}/migrate`, { target: 1, slot: "650-660" });
    expect(res.status, res.text).toBe(202);
    // Shard 0's replica holds another view at the stored version: the round repairs it with
    // a new version, pushed to every node.
    const migrating = await h.cluster(NS, "b3");
    const replica = migrating.shards[0]!.nodes[1]!;
    const wrong = withRangeMoved(migrating, { start: 0, stop: 10 }, 1);
    await withNode(replica.addr, {}, (c) =>
      c.setNodes(renderSetNodes(wrong), migrating.version, true),
    );

    let held = false;
    h.runtime.ops.beforePush = async () => {
      h.runtime.ops.beforePush = undefined;
      held = true;
      await eventually(
        async () =>
          parseClusterInfo(String(await src.call("CLUSTER", "INFO"))).migrating?.state ===
          "success",
        30_000,
        50,
      );
    };
    try {
      const summary = await probeAllClusters({ ...h.runtime.ops, etcd: h.etcd }, h.settings);
      expect(summary.errors).toEqual([]);
      const report = summary.reports.find((r) => r.cluster === "b3")!;
      expect(report.repairs.map((r) => [r.addr, r.reason])).toEqual([[replica.addr, "drift"]]);
    } finally {
      h.runtime.ops.beforePush = undefined;
    }
    expect(held).toBe(true);

    const after = await h.cluster(NS, "b3");
    expect(formatSlotRanges(after.shards[1]!.slot_ranges)).toEqual(["650-660", "8192-16383"]);
    const dst = testMaster(nodes, after, 1);
    for (const k of keys) expect(await valueOn(dst, k), k).toBe(data.get(k));
    expect(await dst.call("SET", keys[0]!, "new")).toBe("OK");
  });
});
