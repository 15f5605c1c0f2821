// Every state a crash can leave between two writes, set up by hand in etcd and on the
// nodes: the next probe rounds finish the work from there.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withNode } from "../../lib/kvrocks/index.js";
import { type Cluster, clusterViolations, masterOf, type Task } from "../../lib/model/index.js";
import {
  newMigrationTask,
  newTaskId,
  saveTask,
  withMigrationStarted,
  withRangeMoved,
} from "../../lib/ops/index.js";
import { probeAllClusters } from "../../lib/probe/index.js";
import { formatSlotRanges, parseSlotRange } from "../../lib/slots/index.js";
import { type Harness, startHarness } from "../support/harness.js";
import {
  load,
  masterNode,
  roundsUntilFinished,
  sleep,
  slotsOf,
  tagsForSlots,
  tasksOf,
} from "./helpers.js";

let h: Harness;
const NS = "resume";

beforeAll(async () => {
  h = await startHarness({ label: "resume" });
});
afterAll(async () => h.close());

async function setup(cl: string, ranges: string[], migrationDelayMs?: number) {
  const nodes = await h.startNodes(2, migrationDelayMs ? { migrationDelayMs } : undefined);
  const cluster = await h.createCluster(NS, cl, nodes, 1);
  const keys = [...tagsForSlots(slotsOf(ranges)).values()].map((t) => `{${t}}:k`);
  return { cluster, data: load(h, cluster, keys) };
}

function runningTask(ranges: string[], inFlight: string, sent: boolean, clean = false): Task {
  const now = Date.now();
  return {
    ...newMigrationTask({
      id: newTaskId(now),
      source: 0,
      target: 1,
      ranges: ranges.map((r) => parseSlotRange(r)),
      now,
    }),
    state: "running",
    started_at: now,
    in_flight: inFlight,
    in_flight_started_at: now,
    in_flight_sent: sent,
    in_flight_clean: clean,
  };
}

/** MIGRATE sent by hand, as a crashed step would have; waits for the node's success. */
async function migrateOnNode(cluster: Cluster, range: string) {
  const src = masterOf(cluster.shards[0]!)!;
  const dst = masterOf(cluster.shards[1]!)!;
  await withNode(src.addr, {}, (c) => c.migrate(parseSlotRange(range), dst.id));
  const node = masterNode(h, cluster, 0);
  while (node.state.migration.state !== "success") await sleep(5);
}

async function expectMoved(cl: string, cluster: Cluster, data: Map<string, string>, v: number) {
  const after = await h.cluster(NS, cl);
  expect(clusterViolations(after)).toEqual([]);
  expect(after.version).toBe(v);
  expect(after.shards.every((s) => s.migrating_slot === null)).toBe(true);
  for (const [k, value] of data) {
    expect(masterNode(h, cluster, 1).read(k), k).toBe(value);
    expect(masterNode(h, cluster, 0).read(k), k).toBeUndefined();
  }
  return after;
}

describe("resuming after a crash", () => {
  it("task written, nothing recorded, nothing sent: records, sends, finishes", async () => {
    const { cluster, data } = await setup("a", ["10", "20"]);
    await saveTask(h.runtime.store, NS, "a", runningTask(["10", "20"], "10", false), "absent");
    const [task] = await roundsUntilFinished(h, NS, "a");
    expect(task).toMatchObject({ state: "succeeded", done: ["10", "20"] });
    await expectMoved("a", cluster, data, cluster.version + 2);
  });

  it("MIGRATE acknowledged by the node but not in the task: the success is ours", async () => {
    const { cluster, data } = await setup("b", ["30"]);
    await h.runtime.store.updateCluster(NS, "b", (c) =>
      withMigrationStarted(c, parseSlotRange("30"), 1),
    );
    await saveTask(h.runtime.store, NS, "b", runningTask(["30"], "30", false), "absent");
    await migrateOnNode(cluster, "30");
    const [task] = await roundsUntilFinished(h, NS, "b");
    expect(task).toMatchObject({ state: "succeeded", done: ["30"] });
    await expectMoved("b", cluster, data, cluster.version + 1);
  });

  it("MIGRATE's answer lost, then a topology change through the API: the completed move is kept", async () => {
    const { cluster, data } = await setup("e", ["70"]);
    await h.runtime.store.updateCluster(NS, "e", (c) =>
      withMigrationStarted(c, parseSlotRange("70"), 1),
    );
    // The engine wrote that the source was clean, sent MIGRATE, and never heard back.
    await saveTask(h.runtime.store, NS, "e", runningTask(["70"], "70", false, true), "absent");
    await migrateOnNode(cluster, "70");
    // Before any probe round: a node added to shard 0 commits and pushes a new topology.
    const [spare] = await h.startNodes(1);
    const added = await h.request("POST", `/api/v1/namespaces/${NS}/clusters/e/shards/0/nodes`, {
      addr: spare!.addr,
    });
    expect(added.status).toBe(201);
    const after = await h.cluster(NS, "e");
    expect(formatSlotRanges(after.shards[1]!.slot_ranges)).toContain("70");
    expect(after.shards[0]!.migrating_slot).toBeNull();
    for (const [k, value] of data) expect(masterNode(h, cluster, 1).read(k), k).toBe(value);
    const [task] = await roundsUntilFinished(h, NS, "e");
    expect(task).toMatchObject({ state: "succeeded", done: ["70"] });
  });

  it("the engine notes, before MIGRATE goes out, that the source holds no success lines for the range", async () => {
    // Each copy takes 500 ms, so the task is seen with its range in flight.
    const { cluster, data } = await setup("f", ["80"], 500);
    const api = `/api/v1/namespaces/${NS}/clusters/f`;
    const res = await h.request("POST", `${api}/migrate`, { target: 1, slot: 80 });
    expect(res.status).toBe(202);
    // The route sends MIGRATE at once, or the first round does.
    await probeAllClusters({ ...h.runtime.ops, etcd: h.etcd }, h.settings);
    const task = (await tasksOf(h, NS, "f")).find((t) => t.in_flight === "80");
    expect(task).toMatchObject({
      in_flight_sent: true,
      in_flight_clean: true,
      in_flight_source: masterOf(cluster.shards[0]!)!.id,
    });
    const [done] = await roundsUntilFinished(h, NS, "f");
    expect(done).toMatchObject({ state: "succeeded", in_flight_clean: false });
    await expectMoved("f", cluster, data, cluster.version + 1);
  });

  it("range moved in etcd, not pushed, task not updated: records it done and pushes", async () => {
    const { cluster, data } = await setup("c", ["40", "41"]);
    await h.runtime.store.updateCluster(NS, "c", (c) =>
      withMigrationStarted(c, parseSlotRange("40"), 1),
    );
    await migrateOnNode(cluster, "40");
    await h.runtime.store.updateCluster(NS, "c", (c) => withRangeMoved(c, parseSlotRange("40"), 1));
    await saveTask(h.runtime.store, NS, "c", runningTask(["40", "41"], "40", true), "absent");
    const [task] = await roundsUntilFinished(h, NS, "c");
    expect(task).toMatchObject({ state: "succeeded", done: ["40", "41"], slots_done: 2 });
    const after = await expectMoved("c", cluster, data, cluster.version + 2);
    expect(formatSlotRanges(after.shards[1]!.slot_ranges)).toEqual(["40-41", "8192-16383"]);
  });

  it("a migration recorded with no task (older controller) is adopted and finished", async () => {
    const { cluster, data } = await setup("d", ["50-60"]);
    await h.runtime.store.updateCluster(NS, "d", (c) =>
      withMigrationStarted(c, parseSlotRange("50-60"), 1),
    );
    await migrateOnNode(cluster, "50-60");
    // No task, and the node already finished: the first round folds the move into the
    // topology before anything else (a record with no task is taken as sent).
    const summary = await probeAllClusters({ ...h.runtime.ops, etcd: h.etcd }, h.settings);
    expect(summary.reports.find((r) => r.cluster === "d")!.folded).toBe(1);
    expect(await roundsUntilFinished(h, NS, "d")).toHaveLength(0);
    await expectMoved("d", cluster, data, cluster.version + 1);
  });
});
