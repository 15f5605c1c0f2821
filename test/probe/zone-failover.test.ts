// Among replicas equally safe to promote (same data), the probe's failover picks the one that
// keeps the shard spread over zones; a zone never outweighs data. Real Kvrocks when
// KVROCKS_BIN is set, the simulator otherwise.
import { afterEach, beforeEach, expect, it } from "vitest";
import type { ReplicationInfo } from "../../lib/kvrocks/index.js";
import { masterOf } from "../../lib/model/index.js";
import { type CandidateReport, pickNewMaster } from "../../lib/ops/index.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import { nodeView, type TestNode } from "../support/nodes.js";
import { keyFor, round, rounds, simFor } from "./helpers.js";

let h: Harness;
let nodes: TestNode[];

beforeEach(async () => {
  h = await startHarness({ label: "zonefo", env: { KVC_PROBE_FAILURES: "2" } });
  nodes = await h.startTestNodes(3);
}, 60_000);
afterEach(async () => h.close());

it("promotes the replica outside the dead master's zone when both hold the same data", async () => {
  // In order: master in a, first replica in a, second in b. Without zones the first is taken.
  const res = await h.request("POST", "/api/v1/namespaces", { namespace: "p" });
  expect(res.status).toBe(201);
  const created = await h.request("POST", "/api/v1/namespaces/p/clusters", {
    name: "c",
    nodes: [
      { addr: nodes[0]!.addr, zone: "a" },
      { addr: nodes[1]!.addr, zone: "a" },
      { addr: nodes[2]!.addr, zone: "b" },
    ],
    replicas: 3,
  });
  expect(created.status, created.text).toBe(201);
  const cluster = await h.cluster("p", "c");
  const master = simFor(nodes, masterOf(cluster.shards[0]!)!.addr);
  expect(master.addr).toBe(nodes[0]!.addr);
  await master.call("SET", keyFor(cluster, 0), "v");
  const [inA, inB] = [nodes[1]!, nodes[2]!];
  const { sequence } = await nodeView(master);
  // Both replicas hold everything the master had: equally safe.
  await eventually(
    async () =>
      (await Promise.all([inA, inB].map(nodeView))).every(
        (v) => v.linkUp && v.sequence === sequence,
      ),
    30_000,
    50,
  );
  await round(h);
  await master.kill();
  await rounds(h, 3);
  const after = await h.cluster("p", "c");
  expect(masterOf(after.shards[0]!)!.addr).toBe(inB.addr);
}, 120_000);

const replica = (id: string, sequence: number, offset: number, zone?: string): CandidateReport => ({
  id,
  addr: `${id}:1`,
  info: {
    role: "slave",
    sequence,
    slaveReplOffset: offset,
    syncInProgress: false,
    masterLinkUp: false,
  } as ReplicationInfo,
  version: 1,
  error: null,
  ineligible: null,
  ...(zone ? { zone } : {}),
});

it("never lets a zone outweigh data: more data wins over a better zone", () => {
  const ahead = replica("ahead", 10, 10, "a");
  const spread = replica("spread", 9, 9, "b");
  expect(pickNewMaster([ahead, spread], "a")?.id).toBe("ahead");
  // Equal data: the zone decides, first away from the master's, then away from the others.
  expect(pickNewMaster([replica("x", 10, 10, "a"), replica("y", 10, 10, "b")], "a")?.id).toBe("y");
  const shared = [replica("p", 5, 5, "b"), replica("q", 5, 5, "b"), replica("r", 5, 5, "c")];
  expect(pickNewMaster(shared, "a")?.id).toBe("r");
  // No zones: the order as before.
  expect(pickNewMaster([replica("m", 1, 1), replica("n", 1, 1)])?.id).toBe("m");
});
