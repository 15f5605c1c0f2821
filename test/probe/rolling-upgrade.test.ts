// A rolling upgrade as docs/operations.md describes it: every node of a 3 × 2 cluster drained,
// stopped, started again and undrained, one after another, under an ioredis Cluster client's
// writes and with the probe running: no acknowledged write lost and no automatic failover
// (the only master changes are the drains' planned switchovers). Client errors are reported;
// the goal is 0. Runs on real Kvrocks when KVROCKS_BIN is set, on the simulator otherwise.
import { afterEach, beforeEach, expect, it } from "vitest";
import { allNodes, masterOf } from "../../lib/model/index.js";
import { listHistory } from "../../lib/ops/index.js";
import { clusterClient, Load } from "../support/cluster-load.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import type { TestNode } from "../support/nodes.js";
import { round } from "./helpers.js";

let h: Harness;
let nodes: TestNode[];
const base = "/api/v1/namespaces/r/clusters/c";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeEach(async () => {
  h = await startHarness({
    label: "rolling",
    env: { KVC_PROBE_FAILURES: "2", KVC_SWITCHOVER_CATCHUP_MS: "3000" },
  });
  nodes = await h.startTestNodes(6);
  const cluster = await h.createCluster("r", "c", nodes, 2);
  for (const n of allNodes(cluster))
    if (n.role === "slave") {
      const node = nodes.find((t) => t.addr === n.addr)!;
      await eventually(
        async () => /master_link_status:up/.test(String(await node.call("INFO", "replication"))),
        30_000,
        100,
      );
    }
}, 90_000);
afterEach(async () => h.close());

it("drains, restarts and undrains every node of a 3x2 cluster under writes: 0 acknowledged writes lost, 0 automatic failovers", async () => {
  const cluster = await h.cluster("r", "c");
  // The probe runs throughout, as its timer would: a node it failed over would show here.
  let probing = true;
  let roundErrors = 0;
  const probe = (async () => {
    while (probing) {
      const summary = await round(h).catch(() => null);
      if (!summary || summary.errors.length > 0) roundErrors++;
      await sleep(100);
    }
  })();
  // Host and port as plain fields: a simulated node has them as getters, which ioredis's copy
  // of the seed drops (it would dial 127.0.0.1:6379).
  const client = clusterClient({ host: nodes[0]!.host, port: nodes[0]!.port });
  const load = new Load(client);
  load.start(8);
  await sleep(1000);
  load.phase = "switchover";
  const steps: { addr: string; role: string; drainMs: number; undrainMs: number }[] = [];
  try {
    // Shards 0 and 1 replica first (drained without a switchover), shard 2 master first (its
    // replica, master by then, is switched back): 4 planned switchovers in all.
    const order = cluster.shards.flatMap((shard, i) => {
      const master = shard.nodes.filter((n) => n.role === "master");
      const replicas = shard.nodes.filter((n) => n.role === "slave");
      return i < 2 ? [...replicas, ...master] : [...master, ...replicas];
    });
    for (const stored of order) {
      const node = nodes.find((n) => n.addr === stored.addr)!;
      const role = allNodes(await h.cluster("r", "c")).find((n) => n.id === stored.id)!.role;
      let t = Date.now();
      const drained = await h.request("POST", `${base}/nodes/${stored.id}/drain`);
      expect(drained.status, drained.text).toBe(200);
      const drainMs = Date.now() - t;
      // The upgrade: the process stops (longer than the probe's failure count) and comes back.
      await node.kill();
      await sleep(1500);
      await node.restart();
      t = Date.now();
      const undrained = await h.request("POST", `${base}/nodes/${stored.id}/undrain`, {
        wait_ms: 30_000,
      });
      expect(undrained.status, undrained.text).toBe(200);
      steps.push({ addr: stored.addr, role, drainMs, undrainMs: Date.now() - t });
    }
    await sleep(1000);
  } finally {
    probing = false;
    await probe;
    await load.stop();
  }
  const lost = await load.lost();
  const history = await listHistory(h.runtime.store, "r", "c");
  const automatic = history.filter((r) => r.kind === "failover" && r.reason !== "drain");
  const errors = [...load.stats.errors.values()].reduce((a, b) => a + b, 0);
  const writes = [...load.stats.writes.values()].reduce((a, b) => a + b, 0);
  console.log(
    `rolling upgrade: ${writes} writes acknowledged, ${errors} client errors` +
      ` (${load.errorLog
        .slice(0, 5)
        .map((e) => e.message)
        .join("; ")}), longest stall ${load.stats.maxLatencyMs.get("switchover")} ms,` +
      ` ${history.length} switchovers, probe round errors ${roundErrors}\n` +
      steps
        .map((s) => `  ${s.addr} (${s.role}): drain ${s.drainMs} ms, undrain ${s.undrainMs} ms`)
        .join("\n"),
  );
  client.disconnect();
  expect(lost).toEqual([]);
  expect(automatic).toEqual([]);
  expect(history.length).toBe(4);
  const after = await h.cluster("r", "c");
  expect(allNodes(after).every((n) => n.drained_at === undefined)).toBe(true);
  for (const shard of after.shards) expect(masterOf(shard)).toBeDefined();
}, 180_000);
