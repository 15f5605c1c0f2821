// The probe as a real process (cron/probe.ts), killed with SIGKILL again and again while a
// task runs: the next processes resume from etcd and finish it; no slot is lost or doubled.
import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterViolations } from "../../lib/model/index.js";
import { countSlots } from "../../lib/slots/index.js";
import { sharedEtcdEndpoints } from "../support/env.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import {
  loadNodes,
  sleep,
  slotsOf,
  tagsForSlots,
  tasksOf,
  testMaster,
  valueOn,
} from "./helpers.js";

let h: Harness;
const NS = "crash";
const running = new Set<ChildProcess>();
let output = "";

beforeAll(async () => {
  h = await startHarness({ label: "crash" });
});
afterAll(async () => {
  for (const p of running) p.kill("SIGKILL");
  await h.close();
});

function startProbe(): ChildProcess {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "cron/probe.ts", "--for", "60s", "--every", "50ms"],
    {
      env: {
        ...process.env,
        KVC_ETCD_ENDPOINTS: sharedEtcdEndpoints().join(","),
        KVC_ETCD_PREFIX: h.prefix,
        KVC_NODE_TIMEOUT_MS: "500",
        KVC_PROBE_TIMEOUT_MS: "500",
        KVC_PROBE_INTERVAL_MS: "50",
        // A killed process keeps the cluster's lock until its lease runs out.
        KVC_PROBE_LOCK_TTL_SECONDS: "2",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  running.add(child);
  child.on("exit", () => running.delete(child));
  return child;
}

async function kill(child: ChildProcess) {
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
}

describe("a probe process killed while a task runs", () => {
  it("is finished by the next processes, every slot owned exactly once", async () => {
    const nodes = await h.startTestNodes(4);
    let cluster = await h.createCluster(NS, "c", nodes, 2);
    const ranges = Array.from({ length: 16 }, (_, i) => `${i * 25}-${i * 25 + 24}`);
    const tags = tagsForSlots(slotsOf(ranges));
    const keys = [...tags.values()].map((t) => `{${t}}:k`);
    const data = await loadNodes(nodes, cluster, keys);
    const v0 = cluster.version;

    const res = await h.request("POST", `/api/v1/namespaces/${NS}/clusters/c/migrate`, {
      target: 1,
      slots: ranges,
    });
    expect(res.status, res.text).toBe(202);
    const id: string = res.body.data.task.id;

    // Kill each process once it has made progress, at varied moments after that.
    const progress: number[] = [];
    const doneCount = async () => (await tasksOf(h, NS, "c")).find((t) => t.id === id)!.done.length;
    for (let kills = 0; kills < 5; kills++) {
      const before = await doneCount();
      const child = startProbe();
      const until = Date.now() + 20_000;
      while ((await doneCount()) === before && Date.now() < until) await sleep(10);
      await sleep((kills * 47) % 150);
      await kill(child);
      const task = (await tasksOf(h, NS, "c")).find((t) => t.id === id)!;
      progress.push(task.done.length);
      if (task.state !== "running") break;
    }
    const last = startProbe();
    const deadline = Date.now() + 40_000;
    let task = (await tasksOf(h, NS, "c")).find((t) => t.id === id)!;
    while (task.state === "running" && Date.now() < deadline) {
      await sleep(100);
      task = (await tasksOf(h, NS, "c")).find((t) => t.id === id)!;
    }
    await kill(last);

    expect(task.state, `${JSON.stringify(task)}\n${output.slice(-2000)}`).toBe("succeeded");
    expect(task.done).toEqual(ranges);
    expect(task.slots_done).toBe(400);
    expect(progress.filter((n) => n > 0 && n < ranges.length).length).toBeGreaterThan(2);

    cluster = await h.cluster(NS, "c");
    expect(clusterViolations(cluster)).toEqual([]);
    expect(cluster.version).toBe(v0 + ranges.length);
    expect(countSlots(cluster.shards[1]!.slot_ranges)).toBe(8192 + 400);
    expect(cluster.shards[0]!.migrating_slot).toBeNull();
    const src = testMaster(nodes, cluster, 0);
    const dst = testMaster(nodes, cluster, 1);
    for (const [k, v] of data) expect(await valueOn(dst, k), k).toBe(v);
    // The source drops the keys once it has the new topology (every key here starts "{t").
    await eventually(
      async () => {
        const left = (await src.call("KEYS", "{t*").catch(() => ["?"])) as string[];
        return left.every((k) => !data.has(k) && k !== "?");
      },
      20_000,
      100,
    );
  }, 90_000);
});
