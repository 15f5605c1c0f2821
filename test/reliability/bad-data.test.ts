// Data already in etcd that this controller would never write: garbage JSON, upstream's
// legacy fields, a cluster that breaks the invariants, a cluster stored under another name,
// broken probe state / history / task documents. The routes that touch such data answer a
// clear error naming it; everything else (other clusters, listings, the probe of the other
// clusters) works as if it were not there.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allNodes, type Cluster, masterOf } from "../../lib/model/index.js";
import { assertConverged, round } from "../probe/helpers.js";
import { type ApiAnswer, type Harness, startHarness } from "../support/harness.js";
import type { SimNode } from "../support/kvrocks-sim/server.js";

// Broken data in etcd is not the client's fault, but neither is it an outage: a 4xx with
// the reason (the controller answers 400 "... in etcd is invalid"); never a 5xx or a 404.
const BROKEN_STATUSES = [400, 409, 422];

let h: Harness;
let good: Cluster;
let goodNodes: SimNode[];
const NS = "m";
const api = `/api/v1/namespaces/${NS}/clusters`;

const put = (key: string, value: string) => h.etcd.put(key).value(value);
const clusterKey = (name: string) => h.runtime.store.keys.cluster(NS, name);

/** A cluster in upstream's JSON with the given addresses, one shard per entry. */
function upstreamJson(name: string, shards: string[][]): Record<string, unknown> {
  const size = Math.floor(16384 / shards.length);
  return {
    name,
    version: 3,
    shards: shards.map((addrs, i) => ({
      nodes: addrs.map((addr, j) => ({
        id: `${String(i)}${String(j)}`.padEnd(40, "a"),
        addr,
        role: j === 0 ? "master" : "slave",
      })),
      slot_ranges: [`${i * size}-${i === shards.length - 1 ? 16383 : (i + 1) * size - 1}`],
      target_shard_index: -1,
      migrating_slot: -1,
    })),
  };
}

beforeAll(async () => {
  h = await startHarness({ label: "baddata", env: { KVC_PROBE_FAILURES: "2" } });
  goodNodes = await h.startNodes(4);
  good = await h.createCluster(NS, "good", goodNodes, 2);
}, 30_000);

afterAll(async () => {
  await h?.close();
});

/** Every route that reads or changes one cluster, with plausible bodies. */
function routesFor(name: string, cluster?: Cluster): [string, string, string, unknown?][] {
  const base = `${api}/${name}`;
  const withSlave = cluster?.shards.findIndex((s) => s.nodes.some((n) => n.role === "slave")) ?? -1;
  const slave =
    withSlave === -1
      ? { shard: 0, id: "a".repeat(40) }
      : {
          shard: withSlave,
          id: cluster!.shards[withSlave]!.nodes.find((n) => n.role === "slave")!.id,
        };
  return [
    ["get", "GET", base],
    ["shards", "GET", `${base}/shards`],
    ["shard", "GET", `${base}/shards/0`],
    ["nodes", "GET", `${base}/shards/0/nodes`],
    ["health", "GET", `${base}/health`],
    ["failovers", "GET", `${base}/failovers`],
    ["tasks", "GET", `${base}/tasks`],
    ["add node", "POST", `${base}/shards/0/nodes`, { addr: "127.0.0.3:7001" }],
    ["remove node", "DELETE", `${base}/shards/${slave.shard}/nodes/${slave.id}`],
    ["add shard", "POST", `${base}/shards`, { nodes: ["127.0.0.3:7002"] }],
    ["remove shard", "DELETE", `${base}/shards/1`],
    ["migrate", "POST", `${base}/migrate`, { target: 1, slot: "0-1", slot_only: true }],
    ["failover", "POST", `${base}/shards/${slave.shard}/failover`, {}],
    ["sync", "POST", `${base}/sync`, {}],
  ];
}

async function hitAll(routes: [string, string, string, unknown?][]) {
  const out: { route: string; answer: ApiAnswer }[] = [];
  for (const [route, method, path, body] of routes) {
    out.push({ route, answer: await h.request(method, path, body) });
  }
  return out;
}

/** The good cluster still works end to end. */
async function goodStillWorks() {
  const list = await h.request("GET", api);
  expect(list.status).toBe(200);
  expect(list.body.data.clusters).toContain("good");
  expect((await h.request("GET", "/api/v1/namespaces")).status).toBe(200);
  const read = await h.request("GET", `${api}/good`);
  expect(read.status).toBe(200);
  const [spare] = await h.startNodes(1);
  const added = await h.request("POST", `${api}/good/shards/1/nodes`, { addr: spare!.addr });
  expect(added.status, added.text).toBe(201);
  const removed = await h.request("DELETE", `${api}/good/shards/1/nodes/${added.body.data}`);
  expect(removed.status, removed.text).toBe(204);
  const now = await h.cluster(NS, "good");
  expect(now.version).toBe(read.body.data.cluster.version + 2);
  good = now;
}

describe("malformed data already in etcd", () => {
  it("garbage JSON: every route on it answers a clear error, it can still be deleted, the rest is unaffected", async () => {
    await put(clusterKey("junk"), '{"name":"junk","shards":[{"nodes":[{"addr":"127.0.0.3:7100"');
    const answers = await hitAll(routesFor("junk"));
    for (const { route, answer } of answers) {
      expect({ route, status: BROKEN_STATUSES.includes(answer.status) }).toEqual({
        route,
        status: true,
      });
      expect(answer.body?.error?.message, route).toMatch(/m\/junk in etcd is invalid: not JSON/);
    }
    await goodStillWorks();
    // The probe reports it and probes the rest.
    const summary = await round(h);
    expect(summary.errors.map((e) => `${e.ns}/${e.cluster}`)).toEqual(["m/junk"]);
    expect(summary.errors[0]!.error).toMatch(/in etcd is invalid/);
    expect(summary.reports.map((r) => r.cluster)).toEqual(["good"]);
    // An operator can remove it.
    expect((await h.request("DELETE", `${api}/junk`)).status).toBe(204);
    expect((await h.request("GET", api)).body.data.clusters).toEqual(["good"]);
  });

  it("a schema error: the message names the field", async () => {
    const json = upstreamJson("odd", [["127.0.0.3:7200"], ["127.0.0.3:7201"]]);
    (json.shards as { nodes: { addr: unknown }[] }[])[1]!.nodes[0]!.addr = 6666;
    await put(clusterKey("odd"), JSON.stringify(json));
    for (const { route, answer } of await hitAll(routesFor("odd"))) {
      expect({ route, ok: BROKEN_STATUSES.includes(answer.status) }).toEqual({ route, ok: true });
      expect(answer.body?.error?.message, route).toMatch(
        /m\/odd in etcd is invalid: .*shards\.1\.nodes\.0\.addr/,
      );
    }
    await goodStillWorks();
    // Its addresses are still taken: the address check reads stored clusters leniently.
    const taken = await h.request("POST", `${api}/good/shards/0/nodes`, { addr: "127.0.0.3:7200" });
    expect(taken.status, taken.text).toBe(409);
    expect(taken.body.error.message).toMatch(/m\/odd/);
    expect((await h.request("DELETE", `${api}/odd`)).status).toBe(204);
  });

  it("upstream's legacy fields read back and can be changed", async () => {
    const nodes = await h.startNodes(2);
    const json = upstreamJson(
      "legacy",
      nodes.map((n) => [n.addr]),
    );
    // Fields upstream wrote at one time or another, or that we do not know.
    const shards = json.shards as Record<string, unknown>[];
    shards[1]!.slot_ranges = null;
    shards[0]!.slot_ranges = ["0-16383"];
    (shards[0]!.nodes as Record<string, unknown>[])[0]!.created_at = 1700000000;
    (shards[0]!.nodes as Record<string, unknown>[])[0]!.password = "";
    shards[0]!.some_future_field = { x: 1 };
    json.extra = "ignored";
    await put(clusterKey("legacy"), JSON.stringify(json));

    const read = await h.request("GET", `${api}/legacy`);
    expect(read.status, read.text).toBe(200);
    expect(read.body.data.cluster.shards[0].migrating_slot).toBeNull();
    expect(read.body.data.cluster.shards[1].slot_ranges).toEqual([]);
    const moved = await h.request("POST", `${api}/legacy/migrate`, {
      target: 1,
      slot: "0-100",
      slot_only: true,
    });
    expect(moved.status, moved.text).toBe(200);
    const stored = JSON.parse((await h.etcd.get(clusterKey("legacy")).string())!);
    expect(stored.version).toBe(4);
    expect(stored.shards[0].migrating_slot).toBeNull();
    expect(stored.shards[0].slot_ranges).toEqual(["101-16383"]);
    expect(stored.shards[1].slot_ranges).toEqual(["0-100"]);
    expect((await h.request("DELETE", `${api}/legacy`)).status).toBe(204);
  });

  it.each([
    ["has two masters in a shard and an unowned slot", true],
    // Kvrocks accepts a topology with unowned slots without complaint (see
    // docs/kvrocks.md): pushed, it would leave slot 16383 served by nobody.
    ["leaves a slot unowned (nodes would accept it)", false],
  ])(
    "a cluster that %s: readable, but no route changes or pushes it, nor does the probe",
    async (_what, twoMasters) => {
      const name = twoMasters ? "twisted" : "holey";
      const nodes = await h.startNodes(4);
      const json = upstreamJson(name, [
        [nodes[0]!.addr, nodes[1]!.addr],
        [nodes[2]!.addr, nodes[3]!.addr],
      ]);
      const shards = json.shards as { nodes: { role: string }[]; slot_ranges: string[] }[];
      if (twoMasters) shards[0]!.nodes[1]!.role = "master";
      shards[1]!.slot_ranges = ["8192-16382"];
      await put(clusterKey(name), JSON.stringify(json));
      const stored = (await h.runtime.store.getCluster(NS, name)).cluster;

      // The probe first: its nodes are uninitialized, which it normally repairs by a push.
      const summary = await round(h);
      const pushedByProbe = nodes.map((n) => n.state.version);

      const answers = await hitAll(routesFor(name, stored));
      const reads = new Set(["get", "shards", "shard", "nodes", "health", "failovers", "tasks"]);
      // Every change (and sync, which would push it to the nodes) is refused, saying why:
      // the violation, or a reason that is also true of this cluster (shard 1 owns slots;
      // a replica never given a topology reports role:master and cannot be promoted).
      const alsoTrue: Record<string, RegExp> = {
        "remove shard": /shard 1 still owns slots/,
        failover: /has no replica to promote: \S+ reports role:master$/,
      };
      const violation = /shard 0 has 2 masters|slot 16383 is owned by no shard/;
      const wrong = answers
        .filter(({ route, answer }) =>
          reads.has(route)
            ? answer.status !== 200
            : !BROKEN_STATUSES.includes(answer.status) ||
              !(
                violation.test(answer.body?.error?.message ?? "") ||
                alsoTrue[route]?.test(answer.body?.error?.message ?? "")
              ),
        )
        .map(({ route, answer }) => `${route}: ${answer.status} ${answer.text.slice(0, 300)}`);
      // Nothing was written, and no node took the topology.
      const written = await h.etcd.get(clusterKey(name)).string();
      const pushedByRoutes = nodes.map((n) => n.state.version);
      const none = [-1, -1, -1, -1];
      expect({
        pushedByProbe,
        wrong,
        unchanged: written === JSON.stringify(json),
        pushedByRoutes,
      }).toEqual({ pushedByProbe: none, wrong: [], unchanged: true, pushedByRoutes: none });
      // The probe reports this cluster as one it cannot act on, and probes the good one.
      expect(summary.reports.find((r) => r.cluster === "good")).toBeTruthy();
      await goodStillWorks();
      expect((await h.request("DELETE", `${api}/${name}`)).status).toBe(204);
    },
  );

  it("a cluster stored under another cluster's name is not rewritten under it", async () => {
    const nodes = await h.startNodes(2);
    const json = upstreamJson(
      "someone-else",
      nodes.map((n) => [n.addr]),
    );
    await put(clusterKey("alias"), JSON.stringify(json));
    const change = await h.request("POST", `${api}/alias/migrate`, {
      target: 1,
      slot: "0-1",
      slot_only: true,
    });
    expect(BROKEN_STATUSES).toContain(change.status);
    expect(change.body.error.message).toMatch(/alias/);
    expect(await h.etcd.get(clusterKey("alias")).string()).toBe(JSON.stringify(json));
    expect((await h.request("DELETE", `${api}/alias`)).status).toBe(204);
  });

  it("a broken probe state document: the health route says so, and the probe still fails a dead master over", async () => {
    const stateKey = h.runtime.store.keys.probeState(NS, "good");
    await round(h);
    await put(stateKey, '{"nodes": "not a map"');
    // Skipped and reported: the health answer names the document (nodes read as unprobed).
    const health = await h.request("GET", `${api}/good/health`);
    expect(health.status, health.text).toBe(200);
    expect(health.body.data.unreadable_documents).toEqual([
      expect.objectContaining({
        key: stateKey,
        error: expect.stringMatching(/probe in etcd is invalid/),
      }),
    ]);

    // The probe's own bookkeeping must not switch failover off for the cluster for good: the
    // next round starts the state afresh and sees the master again (a master that dies before
    // any round saw it is not failed over on a guess: test/probe/failover-safety.test.ts).
    await round(h);
    const before = await h.cluster(NS, "good");
    const master = masterOf(before.shards[0]!)!;
    const sim = goodNodes.find((n) => n.addr === master.addr)!;
    await sim.stop();
    try {
      const summaries = [await round(h), await round(h), await round(h)];
      const after = await h.cluster(NS, "good");
      expect(
        masterOf(after.shards[0]!)!.id,
        JSON.stringify(summaries.map((s) => s.errors)),
      ).not.toBe(master.id);
    } finally {
      await sim.start();
    }
    await round(h);
    await round(h);
    good = await h.cluster(NS, "good");
    expect(assertConverged(goodNodes, good)).toEqual([]);
    expect((await h.request("GET", `${api}/good/health`)).status).toBe(200);
  });

  it("a broken history entry: a failover is answered as it happened, and the history route says what is broken", async () => {
    const current = await h.cluster(NS, "good");
    await put(h.runtime.store.keys.history(NS, "good", "000000000000001-broken"), "nonsense");
    const listed = await h.request("GET", `${api}/good/failovers`);
    expect(BROKEN_STATUSES).toContain(listed.status);
    expect(listed.body.error.message).toMatch(/history\/000000000000001-broken in etcd is invalid/);

    // The broken entry is only read, never needed: the failover happens and says so.
    const failover = await h.request("POST", `${api}/good/shards/1/failover`, {});
    expect(failover.status, failover.text).toBe(200);
    const after = await h.cluster(NS, "good");
    expect(after.version).toBe(current.version + 1);
    const promoted = masterOf(after.shards[1]!)!;
    expect(promoted.id).not.toBe(masterOf(current.shards[1]!)!.id);
    expect(failover.body.data.new_master_id).toBe(promoted.id);
    await h.etcd.delete().key(h.runtime.store.keys.history(NS, "good", "000000000000001-broken"));
  });

  it("a broken task document: migrations of that cluster are refused with the reason, others work", async () => {
    const taskKey = h.runtime.store.keys.task(NS, "good", "000000000000001-000abcdef");
    await put(taskKey, '{"id": 5}');
    const tasks = await h.request("GET", `${api}/good/tasks`);
    expect(BROKEN_STATUSES).toContain(tasks.status);
    expect(tasks.body.error.message).toMatch(/tasks\/000000000000001-000abcdef in etcd is invalid/);
    const before = await h.cluster(NS, "good");
    const migrate = await h.request("POST", `${api}/good/migrate`, {
      target: 1,
      slot: "0-1",
      slot_only: true,
    });
    expect(BROKEN_STATUSES).toContain(migrate.status);
    expect(migrate.body.error.message).toMatch(/in etcd is invalid/);
    expect((await h.cluster(NS, "good")).version).toBe(before.version);
    await goodStillWorks();
    await h.etcd.delete().key(taskKey);
    expect(allNodes(await h.cluster(NS, "good")).length).toBe(4);
  });
});
