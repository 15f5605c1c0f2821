// Review (simulator only): pushCommitted checks the switchover marker once
// (latestAfterSwitchover), then re-folds completed migrations with updateTopology, which
// re-reads the LATEST stored topology, and pushes that without looking at the marker again.
// A planned switchover that commits between the check and the re-fold's read has its switch
// pushed to every node by the API change: its new master is promoted before it caught up.
import { afterAll, beforeAll, expect, it } from "vitest";
import { parseClusterInfo } from "../../lib/kvrocks/index.js";
import { masterOf } from "../../lib/model/index.js";
import { loadNodes, slotsOf, tagsForSlots, testMaster } from "../migration/helpers.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";

let h: Harness;
const NS = "rv";
const api = `/api/v1/namespaces/${NS}/clusters/c`;

beforeAll(async () => {
  h = await startHarness({
    label: "review-refold",
    env: {
      KVC_MIGRATION_TIMEOUT: "60000",
      KVC_PROBE_FAILURES: "1000000",
      KVC_SWITCHOVER_CATCHUP_MS: "4000",
    },
  });
});
afterAll(async () => h.close());

it("an API change's re-fold does not push a switchover's commit before its new master caught up", async () => {
  const nodes = await h.startTestNodes(4, { simulator: { migrationDelayMs: 2000 } });
  const cluster = await h.createCluster(NS, "c", nodes, 2);
  const tags = [...tagsForSlots(slotsOf(["650-660"])).values()];
  await loadNodes(
    nodes,
    cluster,
    tags.map((t) => `{${t}}:a`),
  );
  const src = testMaster(nodes, cluster, 0);
  // Shard 1 is switched over; its replica is held one write behind so it never catches up.
  const shard1Master = testMaster(nodes, cluster, 1);
  const shard1Replica = nodes.find(
    (n) => n.addr === cluster.shards[1]!.nodes.find((x) => x.role === "slave")!.addr,
  )!;
  for (let i = 0; i < 5; i++) await shard1Master.call("SET", `{x}k${i}`, "v").catch(() => null);
  await eventually(
    async () =>
      /sequence:(\d+)/.exec(String(await shard1Replica.call("INFO", "keyspace")))?.[1] ===
      /sequence:(\d+)/.exec(String(await shard1Master.call("INFO", "keyspace")))?.[1],
    10_000,
    50,
  );
  shard1Replica.sim!.kvrocks.store.sequence -= 1;

  const res = await h.request("POST", `${api}/migrate`, { target: 1, slot: "650-660" });
  expect(res.status, res.text).toBe(202);

  let failover: Promise<{ status: number; text: string }> | undefined;
  const store = h.runtime.store;
  const realUnderWay = store.switchoverUnderWay.bind(store);
  h.runtime.ops.beforePush = async () => {
    h.runtime.ops.beforePush = undefined;
    // The move completes on the nodes after the change's commit (as in push-window.test.ts).
    await eventually(
      async () =>
        parseClusterInfo(String(await src.call("CLUSTER", "INFO"))).migrating?.state === "success",
      30_000,
      50,
    );
    // Right after the marker check: the next CLUSTER INFO of the source is slow (a loaded
    // node), and an operator starts a planned switchover (a drain) of shard 1.
    store.switchoverUnderWay = async (ns: string, cl: string) => {
      store.switchoverUnderWay = realUnderWay;
      const under = await realUnderWay(ns, cl);
      const kv = src.sim!.kvrocks;
      const execute = kv.execute.bind(kv);
      let slow = true;
      kv.execute = ((session, args) => {
        const reply = execute(session, args);
        if (!slow || String(args[0]).toUpperCase() !== "CLUSTER") return reply;
        slow = false;
        return new Promise((r) => setTimeout(() => r(reply), 1500));
      }) as typeof kv.execute;
      log.push(`${Date.now() - t0}ms marker checked: ${under}; failover sent`);
      failover = h.request("POST", `${api}/shards/1/failover`, {});
      return under;
    };
  };
  const t0 = Date.now();
  const log: string[] = [];
  {
    const kv = shard1Replica.sim!.kvrocks;
    const execute = kv.execute.bind(kv);
    kv.execute = ((session, args) => {
      const a = args.map(String);
      if (a[0]?.toUpperCase() === "CLUSTERX" && a[1]?.toUpperCase() === "SETNODES")
        log.push(
          `${Date.now() - t0}ms replica SETNODES v${a[3]} role-before=${shard1Replica.sim!.state.role}`,
        );
      return execute(session, args);
    }) as typeof kv.execute;
  }
  let promotedEarly = false;
  const watch = setInterval(() => {
    if (shard1Replica.sim!.state.role === "master" && !promotedEarly) {
      promotedEarly = true;
      log.push(`${Date.now() - t0}ms replica is master`);
    }
  }, 5);
  try {
    const sync = await h.request("POST", `${api}/sync`, { force: true });
    expect(sync.status, sync.text).toBe(200);
    const res2 = await failover!;
    // The replica never caught up: the switchover must be undone, and it never served as master.
    expect(res2.status, res2.text).toBe(409);
  } finally {
    clearInterval(watch);
    h.runtime.ops.beforePush = undefined;
    store.switchoverUnderWay = realUnderWay;
  }
  console.log(log.join("\n"));
  expect(promotedEarly).toBe(false);
  expect(masterOf((await h.cluster(NS, "c")).shards[1]!)!.addr).toBe(shard1Master.addr);
}, 90_000);
