// Shard indexes are integers >= 0 as given: nothing is coerced into a shard.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../support/harness.js";

let h: Harness;
const c = "/api/v1/namespaces/si/clusters/c";
beforeAll(async () => {
  h = await startHarness({ label: "shardidx" });
  const nodes = await h.startNodes(4);
  await h.createCluster("si", "c", nodes, 2);
});
afterAll(async () => h.close());

const badBodies: [string, string, unknown, string][] = [
  ["target null", "migrate", { target: null, slot: 5, slot_only: true }, "target"],
  ["target true", "migrate", { target: true, slot: 5, slot_only: true }, "target"],
  ["target a string", "migrate", { target: "1", slot: 5, slot_only: true }, "target"],
  ["target fractional", "migrate", { target: 1.5, slot: 5, slot_only: true }, "target"],
  ["target negative", "migrate", { target: -1, slot: 5, slot_only: true }, "target"],
  ["remove_shards [null]", "scale", { remove_shards: [null], dry_run: true }, "remove_shards.0"],
  ["remove_shards [true]", "scale", { remove_shards: [true], dry_run: true }, "remove_shards.0"],
  ["remove_shards ['1']", "scale", { remove_shards: ["1"], dry_run: true }, "remove_shards.0"],
];

const badPaths = ["%20", "0x1", "1e0", "-1", "+1", "1.0", "%201"];

describe("shard indexes", () => {
  it.each(badBodies)("%s answers 400 naming the field", async (_n, route, body, field) => {
    const before = await h.cluster("si", "c");
    const res = await h.request("POST", `${c}/${route}`, body);
    expect(res.status, res.text).toBe(400);
    expect(res.body.error.message).toContain(field);
    expect((await h.cluster("si", "c")).version).toBe(before.version);
  });

  it.each(badPaths)("path /shards/%s answers 400 naming the shard", async (index) => {
    for (const [method, suffix] of [
      ["GET", ""],
      ["GET", "/nodes"],
      ["POST", "/failover"],
      ["DELETE", ""],
    ] as const) {
      const res = await h.request(method, `${c}/shards/${index}${suffix}`);
      expect(res.status, `${method} ${index}${suffix}: ${res.text}`).toBe(400);
      expect(res.body.error.message).toContain("shard");
    }
  });

  it("accepts plain integers in bodies and paths", async () => {
    expect((await h.request("GET", `${c}/shards/1`)).status).toBe(200);
    expect((await h.request("GET", `${c}/shards/2`)).status).toBe(404);
    const plan = await h.request("POST", `${c}/scale`, { remove_shards: [1], dry_run: true });
    expect(plan.status, plan.text).toBe(200);
    const moved = await h.request("POST", `${c}/migrate`, { target: 1, slot: 5, slot_only: true });
    expect(moved.status, moved.text).toBeLessThan(300);
  });
});
