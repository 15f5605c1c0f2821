// While a planned switchover of a cluster is under way, its new master must not hear the new
// topology before it has caught up: the switchover pushes in its own order. An API change that
// committed on top of the switchover's commit and pushed to every node would promote it early
// (the writes it lacked lost), so such changes and syncs are refused (409) until it ends.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Lock } from "../../lib/store/index.js";
import { type Harness, startHarness } from "../support/harness.js";
import { nodeView, type TestNode } from "../support/nodes.js";

const base = "/api/v1/namespaces/sw/clusters/c";
let h: Harness;
let nodes: TestNode[];

beforeAll(async () => {
  h = await startHarness({ label: "switchover-guard" });
  nodes = await h.startTestNodes(6);
  await h.createCluster("sw", "c", nodes.slice(0, 4), 2);
});
afterAll(async () => h.close());

async function underSwitchover<T>(run: () => Promise<T>): Promise<T> {
  const marker: Lock | null = await h.runtime.store.beginSwitchover("sw", "c", 30);
  if (!marker) throw new Error("switchover marker not taken");
  try {
    return await run();
  } finally {
    await marker.release();
  }
}

describe("a topology change during a planned switchover", () => {
  it("is refused with 409 saying why, and changes nothing in etcd or on the nodes", async () => {
    const before = await h.cluster("sw", "c");
    const versions = await Promise.all(
      nodes.slice(0, 4).map(async (n) => (await nodeView(n)).version),
    );
    const answers = await underSwitchover(() =>
      Promise.all([
        h.request("POST", `${base}/shards/1/nodes`, { addr: nodes[4]!.addr }),
        h.request("POST", `${base}/shards`, { nodes: [nodes[5]!.addr] }),
        h.request("POST", `${base}/migrate`, { target: 1, slot: "0-9", slot_only: true }),
        h.request("POST", `${base}/sync`, { force: true }),
        h.request("POST", `${base}/sync`, {}),
      ]),
    );
    for (const a of answers) {
      expect(a.status, a.text).toBe(409);
      expect(a.body.error.message).toMatch(/switchover .*under way/);
    }
    expect(await h.cluster("sw", "c")).toEqual(before);
    expect(
      await Promise.all(nodes.slice(0, 4).map(async (n) => (await nodeView(n)).version)),
    ).toEqual(versions);
  });

  it("goes through once the switchover has ended", async () => {
    const added = await h.request("POST", `${base}/shards/1/nodes`, { addr: nodes[4]!.addr });
    expect(added.status, added.text).toBe(201);
    const synced = await h.request("POST", `${base}/sync`, {});
    expect(synced.status, synced.text).toBe(200);
  });
});
