// Review (simulator only, as the switchover test it mirrors): POST .../sync (no force) and
// POST .../sync {node} push the stored topology through foldCompletedMigrations + pushCluster,
// which never look at the switchover marker (only pushCommitted's latestAfterSwitchover does).
// A sync sent while a planned switchover waits for its new master pushes the switch to every
// node: the new master is promoted before it caught up.
import { afterEach, beforeEach, expect, it } from "vitest";
import { masterOf } from "../../lib/model/index.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import type { TestNode } from "../support/nodes.js";

let h: Harness;
let nodes: TestNode[];
const base = "/api/v1/namespaces/s/clusters/c";

beforeEach(async () => {
  h = await startHarness({ label: "review-sync", env: { KVC_SWITCHOVER_CATCHUP_MS: "3000" } });
  nodes = await h.startTestNodes(2);
  await h.createCluster("s", "c", nodes, 2);
}, 60_000);
afterEach(async () => h.close());

it.each([{}, { node: "replica" }])(
  "a sync (%o) during the switchover does not promote its new master before it catches up",
  async (body) => {
    const start = await h.cluster("s", "c");
    const master = nodes.find((n) => n.addr === masterOf(start.shards[0]!)!.addr)!;
    const replica = nodes.find((n) => n.addr !== master.addr)!;
    await eventually(
      async () => /master_link_status:up/.test(String(await replica.call("INFO", "replication"))),
      30_000,
      50,
    );
    for (let i = 0; i < 10; i++) await master.call("SET", `k${i}`, "v");
    await eventually(
      async () =>
        /sequence:(\d+)/.exec(String(await replica.call("INFO", "keyspace")))?.[1] ===
        /sequence:(\d+)/.exec(String(await master.call("INFO", "keyspace")))?.[1],
      10_000,
      50,
    );
    replica.sim!.kvrocks.store.sequence -= 1;
    let promotedEarly = false;
    const watch = setInterval(() => {
      if (replica.sim!.state.role === "master") promotedEarly = true;
    }, 5);
    try {
      const pending = h.request("POST", `${base}/shards/0/failover`, {});
      await eventually(
        async () => Number(await master.call("CLUSTERX", "VERSION")) === start.version + 1,
        10_000,
        10,
      );
      const sync = await h.request(
        "POST",
        `${base}/sync`,
        "node" in body ? { node: replica.addr } : {},
      );
      expect(sync.status, sync.text).toBe(200);
      const res = await pending;
      expect(res.status, res.text).toBe(409);
    } finally {
      clearInterval(watch);
    }
    expect(promotedEarly).toBe(false);
  },
  60_000,
);
