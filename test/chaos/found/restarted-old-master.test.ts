// Found by the fault campaign (issue 23), seed 7:
//   KVROCKS_BIN=... npm run chaos -- --seed 7 --minutes 1.5 --nodes real --quorum 2
// invariant 4 (no split brain): a master killed with -9 and failed over, then started again
// with its data dir (nodes.conf kept), answers as the master of its old slots at its old
// version and takes writes for them until a probe round pushes it the new topology, while
// the new master takes writes for the same slots. Those writes are lost when it follows the
// new master. Kvrocks 2.10.1 reloads its topology from nodes.conf at start; nothing but a
// push demotes it.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { masterOf } from "../../../lib/model/index.js";
import { keyFor, rounds } from "../../probe/helpers.js";
import { type Harness, startHarness } from "../../support/harness.js";
import type { TestNode } from "../../support/nodes.js";

let h: Harness;
let nodes: TestNode[];

beforeEach(async () => {
  h = await startHarness({ label: "found-restart", env: { KVC_PROBE_FAILURES: "3" } });
  nodes = await h.startTestNodes(4);
  await h.createCluster("f", "c", nodes, 2);
  await rounds(h, 1);
});
afterEach(async () => h.close());

describe("a killed master restarted with its data after its failover", () => {
  it("takes no write for the slots it lost, from its first answer on", async () => {
    const before = await h.cluster("f", "c");
    const oldMaster = nodes.find((n) => n.addr === masterOf(before.shards[0]!)!.addr)!;
    await oldMaster.kill();
    let after = before;
    for (let i = 0; i < 10 && masterOf(after.shards[0]!)!.addr === oldMaster.addr; i++) {
      await rounds(h, 1);
      after = await h.cluster("f", "c");
    }
    const newMaster = nodes.find((n) => n.addr === masterOf(after.shards[0]!)!.addr)!;
    expect(newMaster.addr).not.toBe(oldMaster.addr);
    // The new master serves the shard's slots.
    const key = keyFor(after, 0, "sb");
    expect(await newMaster.call("SET", key, "on-the-new-master")).toBe("OK");

    await oldMaster.restart();
    // Its first answer, before any probe round: a write to the old master must be refused
    // (MOVED to the new master), or two masters take writes for the same slot.
    const reply = await oldMaster.call("SET", key, "on-the-old-master").catch((e) => String(e));
    expect(String(reply)).toMatch(/MOVED|CLUSTERDOWN|READONLY/);
  });
});
