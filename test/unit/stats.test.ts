// Replication lag from the nodes' sequences, as the stats route and /metrics report it.
import { describe, expect, it } from "vitest";
import type { NodeInfo } from "../../lib/kvrocks/index.js";
import { Cluster } from "../../lib/model/index.js";
import { nodeStatsFrom } from "../../lib/ops/stats.js";

const id = (c: string) => c.repeat(40);
const cluster = Cluster.parse({
  name: "c",
  version: 1,
  shards: [
    {
      nodes: [
        { id: id("a"), addr: "127.0.0.1:1", role: "master" },
        { id: id("b"), addr: "127.0.0.1:2", role: "slave" },
        { id: id("c"), addr: "127.0.0.1:3", role: "slave" },
      ],
      slot_ranges: ["0-16383"],
    },
  ],
});

const info = (sequence: number, role: "master" | "slave"): NodeInfo => ({
  version: "2.10.1",
  uptimeSeconds: 1,
  usedMemoryBytes: 1,
  usedDiskBytes: 1,
  keys: sequence,
  opsPerSec: 0,
  connectedClients: 1,
  role,
  sequence,
  masterReplOffset: sequence,
  loading: false,
});
const ok = (i: NodeInfo) => ({ ok: true as const, info: i });
const lags = (reads: Map<string, ReturnType<typeof ok> | { ok: false; error: string }>) =>
  nodeStatsFrom(cluster, reads).map((n) => n.replication_lag);

describe("replication lag", () => {
  it("is each replica's distance behind its master, and the master's largest", () => {
    const reads = new Map([
      [id("a"), ok(info(500, "master"))],
      [id("b"), ok(info(480, "slave"))],
      [id("c"), ok(info(500, "slave"))],
    ]);
    expect(lags(reads)).toEqual([20, 20, 0]);
  });

  it("is never negative: a replica read after a write its master was read before", () => {
    const reads = new Map([
      [id("a"), ok(info(500, "master"))],
      [id("b"), ok(info(501, "slave"))],
      [id("c"), ok(info(500, "slave"))],
    ]);
    expect(lags(reads)).toEqual([0, 0, 0]);
  });

  it("is unknown for a dead replica, and the master's comes from the replicas that answered", () => {
    const reads = new Map<string, ReturnType<typeof ok> | { ok: false; error: string }>([
      [id("a"), ok(info(500, "master"))],
      [id("b"), { ok: false, error: "timeout" }],
      [id("c"), ok(info(490, "slave"))],
    ]);
    expect(lags(reads)).toEqual([10, null, 10]);
    expect(nodeStatsFrom(cluster, reads)[1]).toMatchObject({ up: false, error: "timeout" });
  });

  it("is unknown for every replica when the master does not answer", () => {
    const reads = new Map<string, ReturnType<typeof ok> | { ok: false; error: string }>([
      [id("a"), { ok: false, error: "refused" }],
      [id("b"), ok(info(480, "slave"))],
      [id("c"), ok(info(500, "slave"))],
    ]);
    expect(lags(reads)).toEqual([null, null, null]);
  });
});
