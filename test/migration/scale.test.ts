// One-command scale out and in on a loaded cluster, through the HTTP app and probe rounds.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allNodes, clusterViolations, type Task } from "../../lib/model/index.js";
import { type Harness, startHarness } from "../support/harness.js";
import { nodeView } from "../support/nodes.js";
import { ClusterReader, loadNodes, roundsUntilFinished, slotCounts, slotsOf } from "./helpers.js";

let h: Harness;
let reader: ClusterReader;
let data: Map<string, string>;
const NS = "scale";
const base = `/api/v1/namespaces/${NS}/clusters/c`;

interface PlanMove {
  source: number;
  target: number;
  ranges: string[];
  slots: number;
}

beforeAll(async () => {
  // This file is about the plan: each move goes as one range, as before chunks (the cut is
  // chunks.test.ts's), and each round watches the range in flight as a 1 s probe does.
  h = await startHarness({
    label: "scale",
    env: { KVC_MIGRATION_WATCH_FOR_MS: "2000", KVC_MIGRATION_MAX_RANGE_SLOTS: "16384" },
  });
  reader = new ClusterReader();
  const nodes = await h.startTestNodes(4);
  const cluster = await h.createCluster(NS, "c", nodes, 2);
  data = await loadNodes(
    nodes,
    cluster,
    Array.from({ length: 1500 }, (_, i) => `user:${i}`),
  );
});
afterAll(async () => {
  reader.close();
  await h.close();
});

/** Every key through MOVED-following reads, starting at a different node each time. */
async function everyKeyReadable() {
  const addrs = allNodes(await h.cluster(NS, "c")).map((n) => n.addr);
  let i = 0;
  for (const [key, value] of data) {
    expect(await reader.get(addrs[i++ % addrs.length]!, key), key).toBe(value);
  }
}

function movedOnce(moves: PlanMove[]) {
  const seen = new Set<number>();
  for (const m of moves) {
    for (const slot of slotsOf(m.ranges)) {
      expect(seen.has(slot), `slot ${slot} planned twice`).toBe(false);
      seen.add(slot);
    }
    expect(slotsOf(m.ranges)).toHaveLength(m.slots);
  }
  return seen.size;
}

describe("scale out from 2 to 4 shards", () => {
  let added: string[][];

  it("dry_run returns the plan and changes nothing", async () => {
    const spare = await h.startTestNodes(4);
    added = [
      [spare[0]!.addr, spare[1]!.addr],
      [spare[2]!.addr, spare[3]!.addr],
    ];
    const before = await h.cluster(NS, "c");
    const res = await h.request("POST", `${base}/scale`, {
      add_shards: added.map((nodes) => ({ nodes })),
      dry_run: true,
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.data.tasks).toEqual([]);
    expect(res.body.data.plan.moves).toEqual([
      { source: 0, target: 2, ranges: ["4096-8191"], slots: 4096 },
      { source: 1, target: 3, ranges: ["12288-16383"], slots: 4096 },
    ]);
    expect(await h.cluster(NS, "c")).toEqual(before);
    expect((await h.request("GET", `${base}/tasks`)).body.data.tasks).toEqual([]);
  });

  it("adds the shards and moves exactly each old shard's surplus", async () => {
    const res = await h.request("POST", `${base}/scale`, {
      add_shards: added.map((nodes) => ({ nodes })),
    });
    expect(res.status, res.text).toBe(202);
    const moves: PlanMove[] = res.body.data.plan.moves;
    expect(movedOnce(moves)).toBe(8192);
    expect(res.body.data.tasks).toHaveLength(2);
    // Disjoint shard pairs: both start at once.
    expect(res.body.data.tasks.map((t: Task) => t.state)).toEqual(["running", "running"]);

    const tasks = await roundsUntilFinished(h, NS, "c");
    expect(tasks.map((t) => t.state)).toEqual(["succeeded", "succeeded"]);
    const after = await h.cluster(NS, "c");
    expect(clusterViolations(after)).toEqual([]);
    expect(after.shards).toHaveLength(4);
    for (const n of slotCounts(after)) expect(Math.abs(n - 4096)).toBeLessThanOrEqual(1);
    expect(after.shards.every((s) => s.migrating_slot === null)).toBe(true);
    await everyKeyReadable();
  });
});

describe("scale in from 4 to 3 shards", () => {
  it("refuses a shard index that does not exist", async () => {
    const bad = await h.request("POST", `${base}/scale`, { remove_shards: [7] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/shard 7/);
  });

  it("drains the shard, then removes it", async () => {
    const before = await h.cluster(NS, "c");
    const gone = before.shards[3]!.nodes.map((n) => n.id);
    const res = await h.request("POST", `${base}/scale`, { remove_shards: [3] });
    expect(res.status, res.text).toBe(202);
    const moves: PlanMove[] = res.body.data.plan.moves;
    expect(moves.every((m) => m.source === 3)).toBe(true);
    expect(movedOnce(moves)).toBe(4096);
    const kinds = res.body.data.tasks.map((t: Task) => t.kind);
    expect(kinds).toEqual(["migrate", "migrate", "migrate", "remove_shards"]);

    const again = await h.request("POST", `${base}/scale`, { remove_shards: [2] });
    expect(again.status).toBe(409);
    const removeNow = await h.request("DELETE", `${base}/shards/3`);
    expect(removeNow.status).toBe(409);

    const tasks = await roundsUntilFinished(h, NS, "c");
    expect(tasks.slice(-4).map((t) => t.state)).toEqual([
      "succeeded",
      "succeeded",
      "succeeded",
      "succeeded",
    ]);
    const after = await h.cluster(NS, "c");
    expect(after.shards).toHaveLength(3);
    expect(allNodes(after).some((n) => gone.includes(n.id))).toBe(false);
    expect(clusterViolations(after)).toEqual([]);
    for (const n of slotCounts(after)) expect(Math.abs(n - 16384 / 3)).toBeLessThanOrEqual(1);
    await everyKeyReadable();
  });

  it("a balanced cluster plans no moves", async () => {
    const res = await h.request("POST", `${base}/scale`, {});
    expect(res.status).toBe(200);
    expect(res.body.data.plan.moves).toEqual([]);
  });
});

describe("slot-only scale", () => {
  it("moves the slots in the topology at once, one version each way", async () => {
    const nodes = await h.startTestNodes(1);
    const cluster = await h.createCluster(NS, "empty", nodes, 1);
    const url = `/api/v1/namespaces/${NS}/clusters/empty/scale`;
    const out = await h.request("POST", url, {
      add_shards: [{ nodes: ["127.0.0.1:1"] }, { nodes: ["127.0.0.1:2"] }],
      slot_only: true,
      check_nodes: false,
    });
    expect(out.status, out.text).toBe(200);
    expect(out.body.data.tasks).toEqual([]);
    const grown = await h.cluster(NS, "empty");
    // One version for the new shards, one for the moves.
    expect(grown.version).toBe(cluster.version + 2);
    expect(slotCounts(grown).sort()).toEqual([5461, 5461, 5462]);
    expect((await nodeView(nodes[0]!)).version).toBe(grown.version);

    const back = await h.request("POST", url, { remove_shards: [1, 2], slot_only: true });
    expect(back.status, back.text).toBe(200);
    const shrunk = await h.cluster(NS, "empty");
    expect(shrunk.shards).toHaveLength(1);
    expect(slotCounts(shrunk)).toEqual([16384]);
    expect(shrunk.version).toBe(grown.version + 1);
  });
});
