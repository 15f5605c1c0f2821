// A cluster's size is not capped by etcd's 128 operations per transaction: 256 nodes and
// more are created, imported, scaled and deleted through the HTTP app.
import { afterAll, beforeAll, expect, it } from "vitest";
import { allNodes } from "../../lib/model/index.js";
import { type Harness, startHarness } from "../support/harness.js";
import type { SimNode } from "../support/kvrocks-sim/server.js";

let h: Harness;
let nodes: SimNode[];
const ns = "/api/v1/namespaces/big";
const NODES = 256;

beforeAll(async () => {
  h = await startHarness({ label: "big", env: { KVC_NODE_TIMEOUT_MS: "5000" } });
  nodes = await h.startNodes(NODES + 2);
  expect((await h.request("POST", "/api/v1/namespaces", { namespace: "big" })).status).toBe(201);
}, 120_000);
afterAll(async () => h.close(), 120_000);

it("creates, scales, deletes and imports a cluster of 256 nodes", async () => {
  const addrs = nodes.slice(0, NODES).map((n) => n.addr);
  const created = await h.request("POST", `${ns}/clusters`, {
    name: "c",
    nodes: addrs,
    replicas: 2,
  });
  expect(created.status, created.text).toBe(201);
  expect(allNodes(await h.cluster("big", "c"))).toHaveLength(NODES);

  // Every address is still taken: another cluster cannot have one of them.
  const dup = await h.request("POST", `${ns}/clusters`, {
    name: "d",
    nodes: [addrs[200]],
    check_nodes: false,
  });
  expect(dup.status, dup.text).toBe(409);
  expect(dup.body.error.message).toContain("big/c");

  const extra = nodes.slice(NODES).map((n) => n.addr);
  const out = await h.request("POST", `${ns}/clusters/c/scale`, {
    add_shards: [{ nodes: extra }],
    slot_only: true,
  });
  expect(out.status, out.text).toBeLessThan(300);
  expect(allNodes(await h.cluster("big", "c"))).toHaveLength(NODES + 2);

  const shards = (await h.cluster("big", "c")).shards.length;
  const scaleIn = await h.request("POST", `${ns}/clusters/c/scale`, {
    remove_shards: [shards - 1, shards - 2],
    slot_only: true,
  });
  expect(scaleIn.status, scaleIn.text).toBeLessThan(300);
  expect(allNodes(await h.cluster("big", "c"))).toHaveLength(NODES - 2);

  const deleted = await h.request("DELETE", `${ns}/clusters/c`);
  expect(deleted.status, deleted.text).toBeLessThan(300);

  // The nodes still hold the topology they were given: import it as a new cluster.
  const survivors = allNodesOf(nodes.slice(0, NODES - 2));
  const imported = await h.request("POST", `${ns}/clusters/again/import`, { nodes: survivors });
  expect(imported.status, imported.text).toBe(201);
  expect(allNodes(await h.cluster("big", "again"))).toHaveLength(NODES - 2);
  const again = await h.request("POST", `${ns}/clusters`, {
    name: "e",
    nodes: [survivors[0]],
    check_nodes: false,
  });
  expect(again.status, again.text).toBe(409);
  expect((await h.request("DELETE", `${ns}/clusters/again`)).status).toBeLessThan(300);
}, 300_000);

function allNodesOf(sims: readonly SimNode[]): string[] {
  return sims.map((n) => n.addr);
}
