// What Kvrocks keeps from an earlier migration after the topology moved on (a source's
// write-forbidden range, a target's `import_state: success` lines), and the moves that met
// it: through the real HTTP app and probe rounds, on real nodes (`npm run test:kvrocks`) and
// on the simulator.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseClusterInfo } from "../../lib/kvrocks/index.js";
import type { Cluster } from "../../lib/model/index.js";
import { withRangeMoved } from "../../lib/ops/index.js";
import { keySlot } from "../../lib/slots/index.js";
import { type Harness, startHarness } from "../support/harness.js";
import type { TestNode } from "../support/nodes.js";
import {
  ClusterReader,
  loadNodes,
  roundsUntilFinished,
  tagsForSlots,
  testMaster,
} from "./helpers.js";

let h: Harness;
const NS = "left";
const api = (cl: string) => `/api/v1/namespaces/${NS}/clusters/${cl}`;

beforeAll(async () => {
  h = await startHarness({
    label: "left",
    // Failover is the test's to make, never the probe's.
    env: { KVC_MIGRATION_TIMEOUT: "60000", KVC_PROBE_FAILURES: "1000000" },
  });
});
afterAll(async () => h.close());

const key = (slot: number) => `{${tagsForSlots([slot]).get(slot)}}:k`;

/** Moves with data through the API and probe rounds until the task ends; expects success. */
async function moveWithData(cl: string, slot: string, target: number) {
  const res = await h.request("POST", `${api(cl)}/migrate`, { target, slot });
  expect(res.status, res.text).toBe(202);
  const tasks = await roundsUntilFinished(h, NS, cl, 30_000);
  expect(tasks.at(-1), JSON.stringify(tasks.at(-1))).toMatchObject({ state: "succeeded" });
}

async function setOn(node: TestNode, k: string, v: string): Promise<string> {
  try {
    return String(await node.call("SET", k, v));
  } catch (err) {
    return (err as Error).message;
  }
}

async function infoOf(node: TestNode) {
  return parseClusterInfo(String(await node.call("CLUSTER", "INFO")));
}

describe("a slot moved with data and then given back", () => {
  it("slot-only back is refused (409, saying why); forced, the slot still takes writes", async () => {
    const nodes = await h.startTestNodes(2);
    let cluster: Cluster = await h.createCluster(NS, "d1", nodes, 1);
    const k = key(3300);
    await loadNodes(nodes, cluster, [k]);
    await moveWithData("d1", "3300", 1);
    cluster = await h.cluster(NS, "d1");
    const shard0 = testMaster(nodes, cluster, 0);

    const refused = await h.request("POST", `${api("d1")}/migrate`, {
      target: 0,
      slot: "3300",
      slot_only: true,
    });
    expect(refused.status, refused.text).toBe(409);
    expect(refused.body.error.message).toMatch(/keys in slots 3300.*unreachable.*force: true/);
    expect((await h.cluster(NS, "d1")).version).toBe(cluster.version);

    const forced = await h.request("POST", `${api("d1")}/migrate`, {
      target: 0,
      slot: "3300",
      slot_only: true,
      force: true,
    });
    expect(forced.status, forced.text).toBe(200);
    // Kvrocks kept 3300 write-forbidden on shard 0 since it moved it away: released first.
    expect(await setOn(shard0, k, "again")).toBe("OK");
    expect(await shard0.call("GET", k)).toBe("again");
  });

  it("a data move back of part of the range leaves the node taking writes to it", async () => {
    const nodes = await h.startTestNodes(2);
    const cluster = await h.createCluster(NS, "d2", nodes, 1);
    const k = key(3300);
    const data = await loadNodes(nodes, cluster, [k]);
    await moveWithData("d2", "3300-3301", 1);
    // Kvrocks releases a kept forbidden range only on an import of exactly that range.
    await moveWithData("d2", "3300", 0);
    const shard0 = testMaster(nodes, await h.cluster(NS, "d2"), 0);
    expect(await shard0.call("GET", k)).toBe(data.get(k));
    expect(await setOn(shard0, k, "again")).toBe("OK");
  });

  it("a slot-only move to a shard that kept no keys of it takes writes at once", async () => {
    const nodes = await h.startTestNodes(2);
    const cluster = await h.createCluster(NS, "d3", nodes, 1);
    const k = key(3300);
    await loadNodes(nodes, cluster, [k]);
    await moveWithData("d3", "3300", 1);
    // 3300 came to shard 1 with its keys: slot-only it stays refused...
    const res = await h.request("POST", `${api("d3")}/migrate`, {
      target: 0,
      slot: "3300",
      slot_only: true,
    });
    expect(res.status).toBe(409);
    // ...while a slot never moved with data goes at once, and takes writes there.
    const free = await h.request("POST", `${api("d3")}/migrate`, {
      target: 0,
      slot: "9000",
      slot_only: true,
    });
    expect(free.status, free.text).toBe(200);
    const shard0 = testMaster(nodes, await h.cluster(NS, "d3"), 0);
    expect(await setOn(shard0, key(9000), "x")).toBe("OK");
  });
});

describe("a slot left write-forbidden on its owner (by an older controller)", () => {
  it("is named by the cluster check with what clears it", async () => {
    const nodes = await h.startTestNodes(2);
    const cluster = await h.createCluster(NS, "s1", nodes, 1);
    await loadNodes(nodes, cluster, [key(3300)]);
    await moveWithData("s1", "3300", 1);
    // What an older controller did for a slot-only move back: etcd changed, pushed, nothing
    // released on the node.
    await h.runtime.store.updateCluster(NS, "s1", (c) =>
      withRangeMoved(c, { start: 3300, stop: 3300 }, 0),
    );
    const sync = await h.request("POST", `${api("s1")}/sync`, {});
    expect(sync.status, sync.text).toBe(200);
    const shard0 = testMaster(nodes, await h.cluster(NS, "s1"), 0);
    expect(await setOn(shard0, key(3300), "x")).toMatch(/^TRYAGAIN/);

    const check = await h.request("GET", `${api("s1")}/check`);
    expect(check.status).toBe(200);
    expect(check.body.data.check.findings).toContainEqual({
      node: shard0.addr,
      problem: expect.stringMatching(/refuses every write to slots 3300 .*restart the node/),
    });
  });
});

describe("a slot-only move of slots whose keys never moved", () => {
  it("is refused when the owner holds keys in them, and goes when its keys lie around them", async () => {
    const nodes = await h.startTestNodes(2);
    const cluster = await h.createCluster(NS, "k1", nodes, 1);
    // Keys below, in and above slot 100, none in 99 or 101: SCAN returns them in slot order.
    const others = Array.from({ length: 40 }, (_, i) => `o${i}`).filter(
      (k) => keySlot(k) < 99 || keySlot(k) > 101,
    );
    await loadNodes(nodes, cluster, [key(50), key(100), key(5000), ...others]);

    const refused = await h.request("POST", `${api("k1")}/migrate`, {
      target: 1,
      slots: ["99-100"],
      slot_only: true,
    });
    expect(refused.status, refused.text).toBe(409);
    expect(refused.body.error.message).toContain(key(100));
    expect((await h.cluster(NS, "k1")).version).toBe(cluster.version);

    const moved = await h.request("POST", `${api("k1")}/migrate`, {
      target: 1,
      slot: "101",
      slot_only: true,
    });
    expect(moved.status, moved.text).toBe(200);
    const forced = await h.request("POST", `${api("k1")}/migrate`, {
      target: 1,
      slot: "100",
      slot_only: true,
      force: true,
    });
    expect(forced.status, forced.text).toBe(200);
  });
});

describe("a slot-only scale", () => {
  it("is refused (409) when a shard it empties holds keys, and leaves the cluster as it was", async () => {
    const nodes = await h.startTestNodes(2);
    const cluster = await h.createCluster(NS, "sc1", nodes, 1);
    // A key in each shard's slots: scaling in shard 1 slot-only would hand its slots to
    // shard 0 without the key and remove the shard's nodes.
    const shard1Slot = cluster.shards[1]!.slot_ranges[0]!.start;
    const written = await loadNodes(nodes, cluster, [key(10), key(shard1Slot)]);
    expect(written.size).toBe(2);

    const refused = await h.request("POST", `${api("sc1")}/scale`, {
      remove_shards: [1],
      slot_only: true,
    });
    expect(refused.status, refused.text).toBe(409);
    expect(refused.body.error.message).toContain(key(shard1Slot));
    const after = await h.cluster(NS, "sc1");
    expect(after.version).toBe(cluster.version);
    expect(after.shards).toHaveLength(2);
  });
});

describe("a move repeated over a target's old import lines", () => {
  it("is not completed from the target's success left by the first move", async () => {
    // Two shards of master + replica; a password, so a source's migration link waits for
    // the paused target's AUTH answer and sends it nothing else.
    const password = "left-pw";
    const nodes = await h.startTestNodes(4, { password });
    let cluster = await h.createCluster(NS, "a1", nodes, 2, password);
    const k = key(3300);
    const data = await loadNodes(nodes, cluster, [k], password);
    await moveWithData("a1", "3300", 1); // A -> B: B imports 3300, success
    await moveWithData("a1", "3300", 0); // B -> A
    await moveWithData("a1", "9000", 0); // B's migration lines now name 9000, not 3300
    cluster = await h.cluster(NS, "a1");
    const a = testMaster(nodes, cluster, 0);
    const b = testMaster(nodes, cluster, 1);
    const left = await infoOf(b);
    expect(left.importing).toMatchObject({
      ranges: [{ start: 3300, stop: 3300 }],
      state: "success",
    });

    // A -> B again, B paused: A acknowledges MIGRATE and its link waits on B; A dies then.
    await b.pause();
    const res = await h.request("POST", `${api("a1")}/migrate`, { target: 1, slot: "3300" });
    expect(res.status, res.text).toBe(202);
    expect(res.body.data.task).toMatchObject({ in_flight: "3300", in_flight_sent: true });
    await a.kill();
    const replica = cluster.shards[0]!.nodes.find((n) => n.role === "slave")!;
    const failover = await h.request("POST", `${api("a1")}/shards/0/failover`, {
      preferred_node_id: replica.id,
    });
    expect(failover.status, failover.text).toBe(200);
    await b.resume();

    // B still says `importing_slot(s): 3300 / import_state: success` from the first move:
    // that is not this attempt's, and the range must reach B with its key.
    const tasks = await roundsUntilFinished(h, NS, "a1", 30_000);
    expect(tasks.at(-1)).toMatchObject({ state: "succeeded" });
    const after = await h.cluster(NS, "a1");
    expect(after.shards[1]!.slot_ranges.some((r) => r.start <= 3300 && 3300 <= r.stop)).toBe(true);
    const reader = new ClusterReader(password);
    try {
      expect(await reader.get(b.addr, k)).toBe(data.get(k));
    } finally {
      reader.close();
    }
  });
});
