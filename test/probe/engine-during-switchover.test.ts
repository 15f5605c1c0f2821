// Review (simulator): the migration engine's watch runs inside a probe round that started
// before a planned switchover of the source shard. Its next range is recorded on the latest
// topology (the switchover's commit) and "pushFirst" pushes that topology to the source's
// master, i.e. the switchover's new master, before it caught up (no marker check).
import { afterAll, beforeAll, expect, it } from "vitest";
import { masterOf } from "../../lib/model/index.js";
import { loadNodes, slotsOf, tagsForSlots } from "../migration/helpers.js";
import { round } from "../probe/helpers.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";

let h: Harness;
const NS = "rv";
const api = `/api/v1/namespaces/${NS}/clusters/c`;

beforeAll(async () => {
  h = await startHarness({
    label: "review-engine",
    env: {
      KVC_MIGRATION_TIMEOUT: "60000",
      KVC_PROBE_FAILURES: "1000000",
      KVC_SWITCHOVER_CATCHUP_MS: "3000",
    },
  });
});
afterAll(async () => h.close());

it("a scale-out's watch does not promote the switching shard's new master before it caught up", async () => {
  const nodes = await h.startTestNodes(4, { simulator: { migrationDelayMs: 150 } });
  const cluster = await h.createCluster(NS, "c", nodes, 2);
  const tags = [...tagsForSlots(slotsOf(["0-1999"])).values()];
  await loadNodes(
    nodes,
    cluster,
    tags.slice(0, 200).map((t) => `{${t}}:a`),
  );
  const master0 = nodes.find((n) => n.addr === masterOf(cluster.shards[0]!)!.addr)!;
  const replica0 = nodes.find(
    (n) => n.addr === cluster.shards[0]!.nodes.find((x) => x.role === "slave")!.addr,
  )!;
  const seq = async (n: (typeof nodes)[number]) =>
    /sequence:(\d+)/.exec(String(await n.call("INFO", "keyspace")))?.[1];
  await eventually(async () => (await seq(replica0)) === (await seq(master0)), 10_000, 50);
  replica0.sim!.kvrocks.store.sequence -= 1;

  const res = await h.request("POST", `${api}/migrate`, {
    target: 1,
    slot: "0-1999",
    max_range_slots: 50,
  });
  expect(res.status, res.text).toBe(202);

  const t0 = Date.now();
  const log: string[] = [];
  let armed = false;
  let armedAt = Number.POSITIVE_INFINITY;
  let failover: Promise<{ status: number; text: string }> | undefined;
  for (const [name, n] of [
    ["replica0", replica0],
    ["master0", master0],
  ] as const) {
    const kv = n.sim!.kvrocks;
    const execute = kv.execute.bind(kv);
    kv.execute = ((session, args) => {
      const a = args.map(String);
      const setnodes = a[0]?.toUpperCase() === "CLUSTERX" && a[1]?.toUpperCase() === "SETNODES";
      if (
        a[0]?.toUpperCase() === "CLUSTERX" &&
        ["SETNODES", "MIGRATE"].includes(a[1]!.toUpperCase())
      )
        log.push(
          `${Date.now() - t0}ms ${name} ${a[1]} ${setnodes ? "v" + a[3] : a[2]} role=${n.sim!.state.role}`,
        );
      const reply = execute(session, args);
      if (armed && name === "master0" && setnodes && Number(a[3]) > armedAt) {
        // The round's push of a completed range reaches the source: an operator drains
        // (switches over) shard 0 at this moment; this one reply is slow (a loaded node).
        armed = false;
        log.push(`${Date.now() - t0}ms failover sent`);
        failover = h.request("POST", `${api}/shards/0/failover`, {});
        return new Promise((r) => setTimeout(() => r(reply), 400));
      }
      return reply;
    }) as typeof kv.execute;
  }
  let promotedEarly = false;
  const watch = setInterval(() => {
    if (replica0.sim!.state.role === "master" && !promotedEarly) {
      promotedEarly = true;
      log.push(`${Date.now() - t0}ms replica0 is master`);
    }
  }, 5);
  h.runtime.ops.migrationWatch = { everyMs: 25, forMs: 6000 };
  try {
    armedAt = (await h.cluster(NS, "c")).version;
    armed = true;
    const probing = round(h);
    await eventually(async () => failover !== undefined, 10_000, 10);
    const answered = await failover!;
    // The replica never caught up: the switchover is undone.
    expect(answered.status, answered.text).toBe(409);
    log.push(`${Date.now() - t0}ms failover answered`);
    await probing;
  } finally {
    clearInterval(watch);
  }
  console.log(log.join("\n"));
  expect(promotedEarly).toBe(false);
}, 90_000);
