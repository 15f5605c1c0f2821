// Zones through the HTTP API: a zone beside each address (upstream's bare addresses still
// work), placement in distinct zones on create, scale-out and add-replica, and the warnings of
// check and health. Real Kvrocks when KVROCKS_BIN is set, the simulator otherwise.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../support/harness.js";
import type { TestNode } from "../support/nodes.js";

const V1 = "/api/v1/namespaces";
let h: Harness;
let nodes: TestNode[];

beforeAll(async () => {
  h = await startHarness({ label: "zones" });
  nodes = await h.startTestNodes(11);
  expect((await h.request("POST", V1, { namespace: "z" })).status).toBe(201);
}, 120_000);
afterAll(async () => h.close());

interface NodeJson {
  id: string;
  addr: string;
  role: string;
  zone?: string;
}
const zonesOf = (shard: { nodes: NodeJson[] }) => shard.nodes.map((n) => n.zone);

describe("create", () => {
  it("places each shard's nodes in distinct zones when the given order would not", async () => {
    // In the given order, chunks of 2 would put both nodes of each shard in one zone.
    const given = [
      { addr: nodes[0]!.addr, zone: "a" },
      { addr: nodes[1]!.addr, zone: "a" },
      { addr: nodes[2]!.addr, zone: "b" },
      { addr: nodes[3]!.addr, zone: "b" },
    ];
    const res = await h.request("POST", `${V1}/z/clusters`, {
      name: "c1",
      nodes: given,
      replicas: 2,
    });
    expect(res.status, res.text).toBe(201);
    const shards = res.body.data.cluster.shards;
    for (const shard of shards) expect(new Set(zonesOf(shard)).size).toBe(2);
    // One master per zone: losing a zone takes one master, not both.
    const masterZones = shards.map(
      (s: { nodes: NodeJson[] }) => s.nodes.find((n) => n.role === "master")!.zone,
    );
    expect(new Set(masterZones).size).toBe(2);
    // Stored and answered with the node, as an extra field.
    const stored = await h.cluster("z", "c1");
    expect(stored.shards.flatMap((s) => s.nodes.map((n) => n.zone)).sort()).toEqual([
      "a",
      "a",
      "b",
      "b",
    ]);
  });

  it("refuses a malformed zone naming the field", async () => {
    const res = await h.request("POST", `${V1}/z/clusters`, {
      name: "bad",
      nodes: [{ addr: nodes[9]!.addr, zone: "eu 1@x" }],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe("nodes.0.zone");
  });
});

describe("check and health", () => {
  it("warns when a shard's nodes share a zone and when one zone's loss would end a shard or trip safe mode", async () => {
    // One shard of two nodes, both in zone a; the operator's order kept (nothing spreads better).
    const res = await h.request("POST", `${V1}/z/clusters`, {
      name: "c2",
      nodes: [
        { addr: nodes[4]!.addr, zone: "a" },
        { addr: nodes[5]!.addr, zone: "a" },
      ],
      replicas: 2,
    });
    expect(res.status, res.text).toBe(201);
    const check = await h.request("GET", `${V1}/z/clusters/c2/check`);
    expect(check.status).toBe(200);
    const problems = check.body.data.check.warnings.map((w: { problem: string }) => w.problem);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/shard 0 has 2 nodes in zone a/),
        expect.stringMatching(/losing zone a would leave shard 0 with no node/),
        expect.stringMatching(/losing zone a would take 2 of 2 nodes .*safe-mode threshold/),
      ]),
    );
    const health = await h.request("GET", `${V1}/z/clusters/c2/health`);
    expect(health.body.data.zone_warnings).toEqual(problems);

    // The spread cluster of the test before is quiet.
    const spread = await h.request("GET", `${V1}/z/clusters/c1/check`);
    expect(spread.body.data.check.warnings).toEqual([]);
    expect((await h.request("GET", `${V1}/z/clusters/c1/health`)).body.data.zone_warnings).toEqual(
      [],
    );
  });
});

describe("scale out and add replica", () => {
  it("deals the new shards' nodes over zones and shows the placement in the plan", async () => {
    const res = await h.request("POST", `${V1}/z/clusters/c1/scale`, {
      add_shards: [
        {
          nodes: [
            { addr: nodes[6]!.addr, zone: "a" },
            { addr: nodes[7]!.addr, zone: "a" },
          ],
        },
        {
          nodes: [
            { addr: nodes[8]!.addr, zone: "b" },
            { addr: "127.0.0.1:1", zone: "b" },
          ],
        },
      ],
      dry_run: true,
    });
    expect(res.status, res.text).toBe(200);
    const placement = res.body.data.plan.placement;
    expect(placement.map((p: { shard: number }) => p.shard)).toEqual([2, 3]);
    for (const p of placement)
      expect(new Set(p.nodes.map((n: { zone: string }) => n.zone))).toEqual(new Set(["a", "b"]));
  });

  it("adds a replica to the shard that lacks its zone", async () => {
    // No shard of c1 has zone c: the first joins shard 0 (fewest nodes, then lowest index),
    // the second the shard still without c, though shard 0 is listed first.
    const res = await h.request("POST", `${V1}/z/clusters/c1/nodes`, {
      addr: nodes[9]!.addr,
      zone: "c",
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body.data.shard).toBe(0);
    expect(res.body.data.node.zone).toBe("c");
    const second = await h.request("POST", `${V1}/z/clusters/c1/nodes`, {
      addr: nodes[10]!.addr,
      zone: "c",
    });
    expect(second.status, second.text).toBe(201);
    expect(second.body.data.shard).toBe(1);
    const stored = await h.cluster("z", "c1");
    expect(stored.shards.map((s) => s.nodes.map((n) => n.zone).sort())).toEqual([
      ["a", "b", "c"],
      ["a", "b", "c"],
    ]);
  });
});

describe("upstream's shapes", () => {
  it("still takes bare addresses and answers nodes without a zone field", async () => {
    const extra = await h.startTestNodes(1);
    const res = await h.request("POST", `${V1}/z/clusters`, {
      name: "plain",
      nodes: [extra[0]!.addr],
    });
    expect(res.status, res.text).toBe(201);
    expect(Object.keys(res.body.data.cluster.shards[0].nodes[0]).sort()).toEqual([
      "addr",
      "created_at",
      "id",
      "password",
      "role",
    ]);
    const check = await h.request("GET", `${V1}/z/clusters/plain/check`);
    expect(check.body.data.check.warnings).toEqual([]);
  });
});
