// Suspected from the fault campaign (issue 23), seed 804656720 with quorum 2:
//   KVROCKS_BIN=... npm run chaos -- --seed 804656720 --minutes 5 --nodes real --quorum 2
// a planned switchover made 46267 master of shard 0 at 81.5 s; 650 ms later 46267 was restarted
// with an empty data dir, and every acknowledged write of shard 0 from the start of the run
// (731 and more) was gone at the end. The guard for an empty-restarted master (docs/safety.md
// P5) acts on masters a probe round saw holding data; this one was made master by the API
// and restarted before any round saw it. This test asks the question on its own.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { masterOf } from "../../../lib/model/index.js";
import { keyFor, rounds } from "../../probe/helpers.js";
import { type Harness, startHarness } from "../../support/harness.js";
import type { TestNode } from "../../support/nodes.js";

let h: Harness;
let nodes: TestNode[];

beforeEach(async () => {
  h = await startHarness({ label: "found-empty", env: { KVC_PROBE_FAILURES: "3" } });
  nodes = await h.startTestNodes(4);
  await h.createCluster("f", "c", nodes, 2);
  await rounds(h, 1);
});
afterEach(async () => h.close());

describe("a master made by a switchover and restarted empty before any probe round saw it", () => {
  it("is failed over to the old master, which keeps the shard's keys", async () => {
    const before = await h.cluster("f", "c");
    const oldMaster = nodes.find((n) => n.addr === masterOf(before.shards[0]!)!.addr)!;
    const keys = Array.from({ length: 50 }, (_, i) => keyFor(before, 0, `e${i}`));
    for (const k of keys) expect(await oldMaster.call("SET", k, "v")).toBe("OK");
    // Both hold the keys: the replica has caught up.
    await rounds(h, 1);

    const res = await h.request("POST", "/api/v1/namespaces/f/clusters/c/shards/0/failover", {});
    expect(res.status, res.text).toBe(200);
    const after = await h.cluster("f", "c");
    const newMaster = nodes.find((n) => n.addr === masterOf(after.shards[0]!)!.addr)!;
    expect(newMaster.addr).not.toBe(oldMaster.addr);
    expect(await newMaster.call("GET", keys[0]!)).toBe("v");

    await newMaster.restartEmpty();
    await rounds(h, 5);
    await new Promise((r) => setTimeout(r, 3000)); // a replica's own reconnect, full sync
    await rounds(h, 2);

    const now = await h.cluster("f", "c");
    const master = nodes.find((n) => n.addr === masterOf(now.shards[0]!)!.addr)!;
    const held = await Promise.all(keys.map((k) => master.call("GET", k)));
    expect(held.filter((v) => v === "v").length).toBe(keys.length);
  });
});
