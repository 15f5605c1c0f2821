// A node that answers with an error reply (NOAUTH after a password change, WRONGPASS, Kvrocks
// at maxclients) is alive and unmanageable, not dead: failing over a live master whose push
// then fails with the same error would leave two masters taking writes (issue 22, item 2).
// Runs on real Kvrocks when KVROCKS_BIN is set (npm run test:kvrocks), on the simulator otherwise.
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { healthView } from "../../cli/format/views.js";
import { masterOf } from "../../lib/model/index.js";
import { listHistory } from "../../lib/ops/index.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import type { TestNode } from "../support/nodes.js";
import { round, rounds } from "./helpers.js";

let h: Harness;
let master: TestNode;
let replica: TestNode;
const base = "/api/v1/namespaces/e/clusters/c";

beforeEach(async () => {
  h = await startHarness({ label: "error-replies", env: { KVC_PROBE_FAILURES: "3" } });
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

/** One connection kept open to `node`, as an operator's session would be. */
async function session(node: TestNode, password?: string): Promise<Redis> {
  const client = new Redis({
    host: node.host,
    port: node.port,
    protocol: 2,
    password,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on("error", () => {});
  await client.connect();
  return client;
}

/** The shard is as it was, no failover is recorded, and the master is up and unmanageable. */
async function expectAliveAndUnmanageable(before: number, reply: RegExp) {
  const after = await h.cluster("e", "c");
  expect(after.version).toBe(before);
  expect(masterOf(after.shards[0]!)!.addr).toBe(master.addr);
  expect(await listHistory(h.runtime.store, "e", "c")).toEqual([]);

  const health = await h.request("GET", `${base}/health`);
  expect(health.status).toBe(200);
  const data = health.body.data;
  expect(data.safe_mode).toBe(false);
  expect(data.nodes_down).toBe(0);
  expect(data.nodes_unmanageable).toBe(1);
  const node = data.nodes.find((n: { addr: string }) => n.addr === master.addr);
  expect(node).toMatchObject({ up: true, failures: 0 });
  expect(node.unmanageable).toMatch(reply);
  // `kvctl get health` prints it, with the error.
  const printed = healthView(data);
  expect(printed).toMatch(/up, unmanageable/);
  expect(printed).toMatch(new RegExp(`${master.addr}\\) answers with an error: .*${reply.source}`));

  const scrape = await (await h.app.request("/metrics")).text();
  const series = scrape
    .split("\n")
    .filter((l) => l.startsWith("kvc_node_unmanageable{") && l.includes(`addr="${master.addr}"`));
  expect(series).toHaveLength(1);
  expect(series[0]).toMatch(reply);
  expect(series[0]).toMatch(/ 1$/);
}

describe("a master that answers with an error reply", () => {
  it("after CONFIG SET requirepass (NOAUTH) stays master, up and unmanageable, until the password is fixed", async () => {
    const before = (await h.cluster("e", "c")).version;
    // Sent to the node directly, as an operator's redis-cli would: the commands route refuses
    // it (commands-security.test.ts), which is how the review reproduced it before that.
    const operator = await session(master);
    try {
      expect(await operator.call("CONFIG", "SET", "requirepass", "s3cret")).toBe("OK");
    } finally {
      operator.disconnect();
    }
    // The probe's kept connection was opened before the password: fresh ones are refused.
    h.nodePool.close();

    await rounds(h, 5);
    await expectAliveAndUnmanageable(before, /NOAUTH/);

    const admin = await session(master, "s3cret");
    try {
      expect(await admin.call("CONFIG", "SET", "requirepass", "")).toBe("OK");
    } finally {
      admin.disconnect();
    }
    await round(h);
    const health = (await h.request("GET", `${base}/health`)).body.data;
    expect(health.nodes_unmanageable).toBe(0);
    expect(
      health.nodes.find((n: { addr: string }) => n.addr === master.addr).unmanageable,
    ).toBeNull();
  }, 120_000);

  it("at maxclients (the connection refused with an error reply) stays master, up and unmanageable", async () => {
    const before = (await h.cluster("e", "c")).version;
    h.nodePool.close();
    const admin = await session(master);
    try {
      const clients = Number(
        /connected_clients:(\d+)/.exec(String(await admin.call("INFO", "clients")))?.[1],
      );
      // Every connection now open (this one, the replica's) fits; no new one does.
      expect(await admin.call("CONFIG", "SET", "maxclients", String(clients))).toBe("OK");

      await rounds(h, 5);
      await expectAliveAndUnmanageable(before, /max number of clients reached/);
    } finally {
      await admin.call("CONFIG", "SET", "maxclients", "10000");
      admin.disconnect();
    }
  }, 120_000);
});
