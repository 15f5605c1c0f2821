import { describe, expect, it } from "vitest";
import { Cluster, clusterToJson, clusterViolations } from "../../lib/model/index.js";

const id = (c: string) => c.repeat(40);

function twoShards() {
  return {
    name: "c1",
    version: 3,
    shards: [
      {
        nodes: [
          { id: id("a"), addr: "127.0.0.1:7001", role: "master", password: "", created_at: 1 },
          { id: id("b"), addr: "127.0.0.1:7002", role: "slave", password: "", created_at: 1 },
        ],
        slot_ranges: ["0-8191"],
        target_shard_index: -1,
        migrating_slot: null,
      },
      {
        nodes: [
          { id: id("c"), addr: "127.0.0.1:7003", role: "master", password: "", created_at: 1 },
        ],
        slot_ranges: ["8192-16383"],
        target_shard_index: -1,
        migrating_slot: null,
      },
    ],
  };
}

describe("cluster model", () => {
  it("reads upstream JSON and writes it back unchanged", () => {
    const json = twoShards();
    expect(clusterToJson(Cluster.parse(json))).toEqual(json);
  });

  it("reads legacy migrating_slot -1 as not migrating and a number as a slot", () => {
    const json = twoShards();
    (json.shards[0] as { migrating_slot: unknown }).migrating_slot = -1;
    expect(Cluster.parse(json).shards[0]!.migrating_slot).toBeNull();
    (json.shards[0] as { migrating_slot: unknown }).migrating_slot = 5;
    json.shards[0]!.target_shard_index = 1;
    const cluster = Cluster.parse(json);
    expect(cluster.shards[0]!.migrating_slot).toEqual({ start: 5, stop: 5 });
    expect(clusterToJson(cluster).shards[0]!.migrating_slot).toBe("5");
  });

  it("finds no violation in a valid cluster", () => {
    expect(clusterViolations(Cluster.parse(twoShards()))).toEqual([]);
  });

  it("reports a slot owned twice, an unowned slot, two masters and a duplicate address", () => {
    const json = twoShards();
    json.shards[1]!.slot_ranges = ["8000-16382"];
    json.shards[0]!.nodes[1]!.role = "master";
    json.shards[1]!.nodes[0]!.addr = "127.0.0.1:7001";
    const problems = clusterViolations(Cluster.parse(json)).join("\n");
    expect(problems).toMatch(/slot 8000 is owned by shard 0 and shard 1/);
    expect(problems).toMatch(/slot 16383 is owned by no shard/);
    expect(problems).toMatch(/shard 0 has 2 masters/);
    expect(problems).toMatch(/address 127.0.0.1:7001 appears twice/);
  });

  it("refuses a node id that is not 40 characters", () => {
    const json = twoShards();
    json.shards[0]!.nodes[0]!.id = "abc";
    expect(Cluster.safeParse(json).success).toBe(false);
  });
});
