// A replica is never promoted over a master that held data it lacks. Runs on real Kvrocks
// when KVROCKS_BIN is set (npm run test:kvrocks), on the simulator otherwise.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { masterOf, ProbeState } from "../../lib/model/index.js";
import { listHistory } from "../../lib/ops/index.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import type { TestNode } from "../support/nodes.js";
import { round, rounds } from "./helpers.js";

let h: Harness;
let master: TestNode;
let replica: TestNode;
const KEYS = 50;
const base = "/api/v1/namespaces/e/clusters/c";

beforeEach(async () => {
  h = await startHarness({ label: "empty", env: { KVC_PROBE_FAILURES: "3" } });
  const nodes = await h.startTestNodes(2);
  const cluster = await h.createCluster("e", "c", nodes, 2);
  const masterAddr = masterOf(cluster.shards[0]!)!.addr;
  master = nodes.find((n) => n.addr === masterAddr)!;
  replica = nodes.find((n) => n.addr !== masterAddr)!;
  await eventually(
    async () => /master_link_status:up/.test(String(await replica.call("INFO", "replication"))),
    30_000,
    100,
  );
  await round(h);
}, 60_000);
afterEach(async () => h.close());

const sequenceOf = async (node: TestNode) =>
  Number(/sequence:(\d+)/.exec(String(await node.call("INFO", "keyspace")))?.[1]);

async function keysLeft(node: TestNode): Promise<number> {
  let found = 0;
  for (let i = 0; i < KEYS; i++) if ((await node.call("GET", `key-${i}`)) === `v${i}`) found++;
  return found;
}

/** The replica is down while the master takes 50 writes; then the master dies, the replica returns. */
async function replicaMissesWritesThenMasterDies() {
  await replica.kill();
  await round(h);
  for (let i = 0; i < KEYS; i++) expect(await master.call("SET", `key-${i}`, `v${i}`)).toBe("OK");
  await rounds(h, 2);
  await master.kill();
  await replica.restart();
}

describe("a replica that lacks its master's data", () => {
  it("is not promoted; the returning master keeps all 50 keys", async () => {
    const before = await h.cluster("e", "c");
    await replicaMissesWritesThenMasterDies();
    expect(await sequenceOf(replica)).toBe(0);

    await rounds(h, 5);
    const during = await h.cluster("e", "c");
    expect(during.version).toBe(before.version);
    expect(masterOf(during.shards[0]!)!.addr).toBe(master.addr);

    const health = await h.request("GET", `${base}/health`);
    expect(health.body.data.failover_blocked["0"]).toMatch(/has no data \(sequence 0\)/);
    // The refusal is history once, not once per round.
    const history = await listHistory(h.runtime.store, "e", "c");
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ outcome: "refused", shard: 0, new_master_id: "" });
    expect(history[0]!.reason).toMatch(/not failed over: .*has no data/);

    await master.restart();
    await rounds(h, 2);
    const after = await h.cluster("e", "c");
    expect(masterOf(after.shards[0]!)!.addr).toBe(master.addr);
    expect(after.version).toBe(before.version);
    expect(await keysLeft(master)).toBe(KEYS);
    // The replica follows the master again and catches up.
    const masterSequence = await sequenceOf(master);
    await eventually(async () => (await sequenceOf(replica)) >= masterSequence, 30_000, 100);
    await round(h);
    expect((await h.request("GET", `${base}/health`)).body.data.failover_blocked).toEqual({});
  }, 120_000);

  it("is refused by a manual failover unless named with force", async () => {
    await replicaMissesWritesThenMasterDies();
    const replicaId = (await h.cluster("e", "c")).shards[0]!.nodes.find(
      (n) => n.addr === replica.addr,
    )!.id;

    const unnamed = await h.request("POST", `${base}/shards/0/failover`, { force: true });
    expect(unnamed.status, unnamed.text).toBe(400);
    expect(unnamed.body.error.message).toMatch(/force/);

    const refused = await h.request("POST", `${base}/shards/0/failover`, {
      preferred_node_id: replicaId,
    });
    // A refusal of the named node (400, naming the field), not a server error.
    expect(refused.status, refused.text).toBe(400);
    expect(refused.body.error.field).toBe("preferred_node_id");
    expect(refused.body.error.message).toMatch(/has no data.*repeat with force/);
    expect(masterOf((await h.cluster("e", "c")).shards[0]!)!.addr).toBe(master.addr);

    const forced = await h.request("POST", `${base}/shards/0/failover`, {
      preferred_node_id: replicaId,
      force: true,
    });
    expect(forced.status, forced.text).toBe(200);
    expect(forced.body.data.new_master_id).toBe(replicaId);
    const history = await listHistory(h.runtime.store, "e", "c");
    expect(history.at(-1)).toMatchObject({ outcome: "promoted", reason: "manual (forced)" });
  }, 120_000);

  it("is not promoted when its link was down while the master wrote, even with data", async () => {
    await master.call("SET", "first", "1");
    const masterSequence = await sequenceOf(master);
    await eventually(async () => (await sequenceOf(replica)) >= masterSequence, 30_000, 100);
    await round(h);
    await replicaMissesWritesThenMasterDies();
    expect(await sequenceOf(replica)).toBeGreaterThan(0);
    const before = await h.cluster("e", "c");

    await rounds(h, 5);
    expect((await h.cluster("e", "c")).version).toBe(before.version);
    const state = (
      await h.runtime.store.getDoc(h.runtime.store.keys.probeState("e", "c"), ProbeState)
    )?.value;
    expect(state?.failover_blocked["0"]).toMatch(/missed writes/);
  }, 120_000);

  it("is not promoted when the writes it missed came before the probe saw its link down", async () => {
    await master.call("SET", "first", "1");
    const masterSequence = await sequenceOf(master);
    await eventually(async () => (await sequenceOf(replica)) >= masterSequence, 30_000, 100);
    await round(h);
    // No round between the replica's death and the writes: the probe first sees it down after.
    await replica.kill();
    for (let i = 0; i < KEYS; i++) expect(await master.call("SET", `key-${i}`, `v${i}`)).toBe("OK");
    await round(h);
    await master.kill();
    await replica.restart();
    const before = await h.cluster("e", "c");

    await rounds(h, 5);
    expect((await h.cluster("e", "c")).version).toBe(before.version);
    const state = (
      await h.runtime.store.getDoc(h.runtime.store.keys.probeState("e", "c"), ProbeState)
    )?.value;
    expect(state?.failover_blocked["0"]).toMatch(/missed writes/);
    await master.restart();
    await rounds(h, 2);
    expect(await keysLeft(master)).toBe(KEYS);
  }, 120_000);
});
