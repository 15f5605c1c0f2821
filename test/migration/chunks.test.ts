// Moves in bounded chunks, completed the moment the nodes finish them (issue 24): a planned
// move is cut into ranges of at most K slots, and the probe round that owns the cluster
// watches the source master's migrating state closely, committing and pushing each range
// as soon as Kvrocks reports it done. Through the HTTP app and the real probe function, on
// simulated nodes (npm test) and real Kvrocks (npm run test:kvrocks).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allNodes, clusterViolations, type Task } from "../../lib/model/index.js";
import { newMigrationTask, newTaskId, saveTask } from "../../lib/ops/index.js";
import { countSlots, parseSlotRange } from "../../lib/slots/index.js";
import { round } from "../probe/helpers.js";
import { type Harness, startHarness } from "../support/harness.js";
import { nodeView, type TestNode } from "../support/nodes.js";
import {
  ClusterReader,
  loadNodes,
  roundsUntilFinished,
  sleep,
  slotsOf,
  tasksOf,
} from "./helpers.js";

const NS = "chunks";
const K = 1024;
const sizes = (t: Task) => t.ranges.map((r) => countSlots([parseSlotRange(r)]));

describe("a planned move in bounded chunks", () => {
  let h: Harness;
  let reader: ClusterReader;
  let data: Map<string, string>;
  const base = `/api/v1/namespaces/${NS}/clusters/c`;

  beforeAll(async () => {
    h = await startHarness({
      label: "chunks",
      env: { KVC_MIGRATION_MAX_RANGE_SLOTS: String(K) },
    });
    reader = new ClusterReader();
    const nodes = await h.startTestNodes(2);
    const cluster = await h.createCluster(NS, "c", nodes, 1);
    data = await loadNodes(
      nodes,
      cluster,
      Array.from({ length: 1000 }, (_, i) => `user:${i}`),
    );
  });
  afterAll(async () => {
    reader.close();
    await h?.close();
  });

  it("a scale-out moves each shard's surplus in ranges of at most KVC_MIGRATION_MAX_RANGE_SLOTS slots", async () => {
    const spare = await h.startTestNodes(2);
    const res = await h.request("POST", `${base}/scale`, {
      add_shards: spare.map((n) => ({ nodes: [n.addr] })),
    });
    expect(res.status, res.text).toBe(202);
    const planned: { ranges: string[]; slots: number }[] = res.body.data.plan.moves;
    const tasks: Task[] = res.body.data.tasks;
    expect(tasks).toHaveLength(planned.length);
    tasks.forEach((task, i) => {
      expect(task.max_range_slots).toBe(K);
      expect(Math.max(...sizes(task))).toBeLessThanOrEqual(K);
      // The pieces are the plan's slots, in order, each once.
      expect(slotsOf(task.ranges)).toEqual(slotsOf(planned[i]!.ranges));
      expect(task.ranges.length).toBe(Math.ceil(planned[i]!.slots / K));
    });

    const done = await roundsUntilFinished(h, NS, "c", 60_000);
    expect(done.map((t) => t.state)).toEqual(tasks.map(() => "succeeded"));
    for (const t of done) expect(t.done).toEqual(t.ranges);
    const after = await h.cluster(NS, "c");
    expect(clusterViolations(after)).toEqual([]);
    expect(after.shards.every((s) => s.migrating_slot === null)).toBe(true);
    const addrs = allNodes(after).map((n) => n.addr);
    let i = 0;
    for (const [key, value] of data) {
      expect(await reader.get(addrs[i++ % addrs.length]!, key), key).toBe(value);
    }
  });

  it("a migrate request's max_range_slots cuts its ranges, and a bad one is refused naming it", async () => {
    const bad = await h.request("POST", `${base}/migrate`, {
      target: 1,
      slot: "0-99",
      max_range_slots: 0,
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/max_range_slots/);

    const cluster = await h.cluster(NS, "c");
    const source = cluster.shards.findIndex((s) => s.slot_ranges.some((r) => r.start === 0));
    const res = await h.request("POST", `${base}/migrate`, {
      target: source === 0 ? 1 : 0,
      slots: ["0-249", "300"],
      max_range_slots: 100,
    });
    expect(res.status, res.text).toBe(202);
    expect(res.body.data.task.ranges).toEqual(["0-99", "100-199", "200-249", "300"]);
    expect(res.body.data.task.slots_total).toBe(251);
    const done = await roundsUntilFinished(h, NS, "c", 60_000);
    expect(done.every((t) => t.state === "succeeded")).toBe(true);
  });
});

describe("a range completed the moment the node reports it", () => {
  let h: Harness;
  let nodes: TestNode[];
  const base = `/api/v1/namespaces/${NS}/clusters/w`;

  beforeAll(async () => {
    h = await startHarness({
      label: "watch",
      env: {
        KVC_MIGRATION_MAX_RANGE_SLOTS: "512",
        KVC_MIGRATION_WATCH_EVERY_MS: "10",
        KVC_MIGRATION_WATCH_FOR_MS: "20000",
      },
    });
    nodes = await h.startTestNodes(2);
    const cluster = await h.createCluster(NS, "w", nodes, 1);
    await loadNodes(
      nodes,
      cluster,
      Array.from({ length: 500 }, (_, i) => `w:${i}`),
    );
  });
  afterAll(async () => {
    await h?.close();
  });

  it("one probe round carries a task of four ranges to its end, pushing each as it completes", async () => {
    const res = await h.request("POST", `${base}/migrate`, { target: 1, slot: "0-2047" });
    expect(res.status, res.text).toBe(202);
    expect(res.body.data.task.ranges).toHaveLength(4);
    const summary = await round(h);
    const [task] = await tasksOf(h, NS, "w");
    expect(task!.state, JSON.stringify(task)).toBe("succeeded");
    const report = summary.reports.find((r) => r.cluster === "w")!;
    const pushed = report.migrations.filter((m) => m.event === "pushed");
    // The HTTP request sent the first range; the round saw each of the four complete (the
    // first may have completed before the round began: then the round found it done).
    expect(pushed.length).toBeGreaterThanOrEqual(3);
    for (const p of pushed) expect(p.ms).toBeGreaterThanOrEqual(0);
    // Every node is on the version that gives the target all four ranges.
    const cluster = await h.cluster(NS, "w");
    for (const n of nodes) expect((await nodeView(n)).version).toBe(cluster.version);
  });
});

describe("a task's speed settings on its source master", () => {
  let h: Harness;
  let nodes: TestNode[];
  const base = `/api/v1/namespaces/${NS}/clusters/s`;
  const speedOf = async (n: TestNode) =>
    ((await n.call("CONFIG", "GET", "migrate-speed")) as string[])[1];

  beforeAll(async () => {
    h = await startHarness({ label: "speed" });
    nodes = await h.startTestNodes(2);
    const cluster = await h.createCluster(NS, "s", nodes, 1);
    await loadNodes(
      nodes,
      cluster,
      Array.from({ length: 300 }, (_, i) => `s:${i}`),
    );
  });
  afterAll(async () => {
    await h?.close();
  });

  it("sets migrate-speed on the source while the task runs and puts the node's own value back after", async () => {
    const source = nodes[0]!;
    expect(await speedOf(source)).toBe("4096");
    const bad = await h.request("POST", `${base}/migrate`, {
      target: 1,
      slot: "0-99",
      speed: -1,
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/speed/);

    const res = await h.request("POST", `${base}/migrate`, {
      target: 1,
      slot: "0-1023",
      speed: 1000,
      batch_size_kb: 64,
      max_range_slots: 512,
    });
    expect(res.status, res.text).toBe(202);
    // The request sent the first range: the setting is on the node, its old value in the task.
    expect(await speedOf(source)).toBe("1000");
    expect(((await source.call("CONFIG", "GET", "migrate-batch-size-kb")) as string[])[1]).toBe(
      "64",
    );
    const [running] = await tasksOf(h, NS, "s");
    expect(running!.source_config).toEqual([
      {
        node: (await h.cluster(NS, "s")).shards[0]!.nodes[0]!.id,
        addr: source.addr,
        saved: { "migrate-speed": "4096", "migrate-batch-size-kb": "16" },
      },
    ]);
    const [done] = await roundsUntilFinished(h, NS, "s", 60_000);
    expect(done!.state).toBe("succeeded");
    expect(done!.source_config).toEqual([]);
    expect(await speedOf(source)).toBe("4096");
    expect(((await source.call("CONFIG", "GET", "migrate-batch-size-kb")) as string[])[1]).toBe(
      "16",
    );
  });

  it("a finished task whose settings were not put back (a crash) has them restored by the next round", async () => {
    const source = nodes[0]!;
    const id = (await h.cluster(NS, "s")).shards[0]!.nodes[0]!.id;
    await source.call("CONFIG", "SET", "migrate-speed", "77");
    const now = Date.now();
    const task = {
      ...newMigrationTask({
        id: newTaskId(now),
        source: 0,
        target: 1,
        ranges: [{ start: 5000, stop: 5001 }],
        now,
        settings: { speed: 77 },
      }),
      state: "failed" as const,
      finished_at: now,
      source_config: [{ node: id, addr: source.addr, saved: { "migrate-speed": "4096" } }],
    };
    await saveTask(h.runtime.store, NS, "s", task, "absent");
    await round(h);
    expect(await speedOf(source)).toBe("4096");
    const after = (await tasksOf(h, NS, "s")).find((t) => t.id === task.id)!;
    expect(after.source_config).toEqual([]);
  });
});

describe("a range that does not converge", () => {
  let h: Harness;
  let nodes: TestNode[];
  const base = `/api/v1/namespaces/${NS}/clusters/n`;

  beforeAll(async () => {
    h = await startHarness({ label: "converge" });
    // The simulator copies in a fixed time: 60 s stands for a copy slower than the writes.
    nodes = await h.startTestNodes(2, { simulator: { migrationDelayMs: 60_000 } });
    const cluster = await h.createCluster(NS, "n", nodes, 1);
    await loadNodes(
      nodes,
      cluster,
      Array.from({ length: 300 }, (_, i) => `n:${i}`),
    );
  });
  afterAll(async () => {
    await h?.close();
  });

  it("is reported in the task, health and metrics with its rates while it keeps migrating", async () => {
    const cluster = await h.cluster(NS, "n");
    const source = nodes.find((n) => n.addr === cluster.shards[0]!.nodes[0]!.addr)!;
    // 1 key/s: the range's 150 keys take minutes, and the writes below come faster.
    const res = await h.request("POST", `${base}/migrate`, {
      target: 1,
      slot: "0-8191",
      speed: 1,
      // One range: the estimate spreads the source's writes evenly over its slots.
      max_range_slots: 8192,
    });
    expect(res.status, res.text).toBe(202);
    const started = Date.now();
    let n = 0;
    while (Date.now() - started < 11_000) {
      // Writes to keys of the range (slot 0..8191 on the source): {t0} hashes into it.
      await loadNodes(nodes, cluster, [`{n}:${n++}`, `{n}:${n++}`]);
      await sleep(50);
    }
    await round(h);
    const [task] = await tasksOf(h, NS, "n");
    expect(task!.state).toBe("running");
    expect(task!.not_converging, JSON.stringify(task)).toMatchObject({
      range: "0-8191",
      copy_keys_per_s: 1,
    });
    expect(task!.not_converging!.range_writes_per_s).toBeGreaterThan(1);
    const health = await h.request("GET", `${base}/health`);
    expect(health.body.data.not_converging_migrations, health.text).toMatchObject([
      { task: task!.id, range: "0-8191", copy_keys_per_s: 1 },
    ]);
    const metrics = await h.request("GET", "/metrics");
    expect(metrics.text).toMatch(
      /kvc_cluster_not_converging_migrations\{[^}]*cluster="n"[^}]*\} 1/,
    );
    expect(await source.call("CONFIG", "GET", "migrate-speed")).toEqual(["migrate-speed", "1"]);
  }, 60_000);
});
