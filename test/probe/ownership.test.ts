// Probe ownership: invocations share the clusters fairly, keep them across rounds, take over
// those of an invocation that ended or died, and a former owner can change nothing.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { emptyProbeState, ProbeState } from "../../lib/model/index.js";
import { newMigrationTask, newTaskId, saveTask } from "../../lib/ops/index.js";
import { collectMetrics } from "../../lib/ops/metrics.js";
import { type ProbeInvocation, startInvocation } from "../../lib/probe/index.js";
import { parseSlotRange } from "../../lib/slots/index.js";
import { type ClusterRef, listOwners, ownerString } from "../../lib/store/index.js";
import { EtcdCluster } from "../support/etcd.js";
import { kvRequests, proposalsCommitted } from "../support/etcd-metrics.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import { probeDeps, round } from "./helpers.js";
import { spawnProbe } from "./process.js";

let h: Harness;
const started: ProbeInvocation[] = [];

async function member(): Promise<ProbeInvocation> {
  const invocation = await startInvocation(probeDeps(h), h.settings, true);
  started.push(invocation);
  return invocation;
}

const refs: ClusterRef[] = Array.from({ length: 60 }, (_, i) => ({
  namespace: "share",
  cluster: `c${i}`,
}));

async function ownersByLease(): Promise<Map<string, string[]>> {
  const byLease = new Map<string, string[]>();
  for (const [cluster, owner] of await listOwners(h.etcd, h.runtime.store.keys)) {
    if (!cluster.startsWith("share/")) continue;
    byLease.set(owner.lease, [...(byLease.get(owner.lease) ?? []), cluster]);
  }
  return byLease;
}

beforeAll(async () => {
  h = await startHarness({ label: "own", env: { KVC_PROBE_LOCK_TTL_SECONDS: "2" } });
});
/** Ends every invocation a test started, so none is left in the registry for the next. */
async function endAll() {
  await Promise.all(started.splice(0).map((i) => i.end()));
}

afterEach(endAll);
afterAll(async () => h?.close());

describe("probe ownership", () => {
  it("invocations share the clusters fairly, each cluster owned once, and a newcomer gets its share in one round", async () => {
    const a = await member();
    const b = await member();
    const first = [await a.plan(refs), await b.plan(refs)];
    expect(first.map((p) => p.mine.length)).toEqual([30, 30]);

    const c = await member();
    // One round of each: a and b hand the newcomer its share directly, so nothing is unowned.
    const second = [await a.plan(refs), await b.plan(refs), await c.plan(refs)];
    const third = [await a.plan(refs), await b.plan(refs), await c.plan(refs)];
    for (const plans of [third]) {
      const owned = plans.map((p) => p.mine.map((m) => ownerString(m.ref)));
      expect(owned.map((o) => o.length)).toEqual([20, 20, 20]);
      expect(new Set(owned.flat()).size).toBe(60);
    }
    // Handed straight from lease to lease: the newcomer's share, give or take a rebalance.
    expect(second[0]!.handedOver + second[1]!.handedOver).toBeGreaterThanOrEqual(20);
    expect(second[2]!.claimed).toBe(0);
    expect(third.every((p) => p.claimed + p.handedOver === 0)).toBe(true);
    const byLease = await ownersByLease();
    expect([...byLease.values()].map((v) => v.length).sort()).toEqual([20, 20, 20]);
    expect(new Set(byLease.keys())).toEqual(new Set([a.lease, b.lease, c.lease]));

    // A clean end frees its clusters at once; the others take them over in their next round.
    await c.end();
    await a.plan(refs);
    await b.plan(refs);
    const after = [await a.plan(refs), await b.plan(refs)];
    expect(after.map((p) => p.mine.length)).toEqual([30, 30]);
    expect((await ownersByLease()).size).toBe(2);
    await a.end();
    const alone = await b.plan(refs);
    expect(alone.mine).toHaveLength(60);
    await b.end();
  });

  it("a cluster of an invocation killed with SIGKILL is taken over once its lease expires", async () => {
    const nodes = await h.startNodes(2);
    await h.createCluster("kill", "c", nodes, 1);
    const ref = { namespace: "kill", cluster: "c" };
    const run = spawnProbe(h.prefix, ["--for", "60s", "--every", "200ms"], {
      KVC_PROBE_LOCK_TTL_SECONDS: "2",
      KVC_PROBE_INTERVAL_MS: "200",
    });
    try {
      // The process owns the cluster.
      await eventually(
        async () => (await listOwners(h.etcd, h.runtime.store.keys)).has("kill/c"),
        30_000,
        100,
      );
      run.child.kill("SIGKILL");
      expect((await run.exited).signal).toBe("SIGKILL");
    } finally {
      run.child.kill("SIGKILL");
    }
    const next = await member();
    const killedAt = Date.now();
    // Still owned by the dead process's lease: not probed twice.
    expect((await next.plan([ref])).mine).toHaveLength(0);
    await eventually(async () => (await next.plan([ref])).mine.length === 1, 15_000, 100);
    console.log(`taken over ${Date.now() - killedAt} ms after SIGKILL (lease TTL 2 s)`);
    const summary = await round(h, next);
    expect(summary.probed).toBe(1);
    await next.end();
  }, 60_000);

  it("an invocation stopped with SIGTERM frees its clusters at once, and the next takes them in one round", async () => {
    const nodes = await h.startNodes(2);
    await h.createCluster("term", "c", nodes, 1);
    const ref = { namespace: "term", cluster: "c" };
    const run = spawnProbe(h.prefix, ["--for", "60s", "--every", "200ms"], {
      KVC_PROBE_LOCK_TTL_SECONDS: "30",
      KVC_PROBE_INTERVAL_MS: "200",
    });
    try {
      await eventually(
        async () => (await listOwners(h.etcd, h.runtime.store.keys)).has("term/c"),
        30_000,
        100,
      );
      run.child.kill("SIGTERM");
      const exit = await run.exited;
      expect(exit.code, run.output()).toBe(0);
      // Long before the 30 s TTL: the lease was revoked on the way out.
      expect((await listOwners(h.etcd, h.runtime.store.keys)).has("term/c")).toBe(false);
      const next = await member();
      expect((await next.plan([ref])).mine).toHaveLength(1);
    } finally {
      run.child.kill("SIGKILL");
    }
  }, 60_000);

  it("a write fenced by an invocation's lease is refused once that lease is lost", async () => {
    const nodes = await h.startNodes(2);
    await h.createCluster("fence", "c", nodes, 1);
    const ref = { namespace: "fence", cluster: "c" };
    const owner = await member();
    const plan = await owner.plan([ref]);
    const fence = plan.mine[0]!.fence;
    const key = h.runtime.store.keys.probeState("fence", "c");
    await h.runtime.store.putDoc(key, emptyProbeState(), { fence });

    // As if the process paused past its TTL: etcd drops the lease and its keys.
    await h.etcd.leaseClient.leaseRevoke({ ID: owner.lease });
    const other = await member();
    expect((await other.plan([ref])).mine).toHaveLength(1);
    await expect(h.runtime.store.putDoc(key, emptyProbeState(), { fence })).rejects.toMatchObject({
      kind: "conflict",
    });
    // The owner learns its lease is gone at its next renewal.
    await eventually(() => owner.signal.aborted, 10_000, 50);
    // Its next round starts afresh with a new lease and finds the cluster owned elsewhere.
    const again = await owner.plan([ref]);
    expect(again.mine).toHaveLength(0);
    expect(again.elsewhere).toBe(1);
    expect(owner.signal.aborted).toBe(false);
    await other.end();
    await owner.end();
  }, 30_000);
});

describe("a running invocation's healthy rounds", () => {
  let etcd: EtcdCluster;
  let quiet: Harness;

  beforeAll(async () => {
    // A private etcd: its proposal counter then counts this test's writes only.
    etcd = await EtcdCluster.start(1);
    quiet = await startHarness({
      label: "zero",
      env: { KVC_ETCD_ENDPOINTS: etcd.endpoints.join(",") },
    });
    await quiet.createCluster("z", "c", await quiet.startNodes(4), 1);
  }, 30_000);
  afterAll(async () => {
    await quiet?.close();
    await etcd?.stop();
  });

  it("read their clusters' inputs a batch of 32 clusters at a time, not four requests per cluster, finished tasks kept or not", async () => {
    const nodes = await quiet.startNodes(33);
    for (const [i, node] of nodes.entries()) await quiet.createCluster("many", `m${i}`, [node], 1);
    // A cluster that migrated once keeps its finished tasks: still nothing to advance.
    const now = Date.now();
    const finished = {
      ...newMigrationTask({
        id: newTaskId(now),
        source: 0,
        target: 0,
        ranges: [parseSlotRange("1")],
        now,
      }),
      state: "succeeded" as const,
      finished_at: now,
    };
    for (let i = 0; i < nodes.length; i += 2)
      await saveTask(quiet.runtime.store, "many", `m${i}`, finished, "absent");
    const invocation = await startInvocation(probeDeps(quiet), quiet.settings, true);
    try {
      await round(quiet, invocation); // takes the clusters, first sight recorded
      const url = etcd.members[0]!.clientUrl;
      const before = await kvRequests(url);
      const summary = await round(quiet, invocation);
      const requests = (await kvRequests(url)) - before;
      expect(summary.probed).toBe(34);
      expect(summary.reports.every((r) => !r.stateWritten && r.failed === 0)).toBe(true);
      // The cluster list, the registry, the ownership keys, and two batches of inputs.
      expect(requests).toBeLessThanOrEqual(5);
    } finally {
      await invocation.end();
      for (let i = 0; i < nodes.length; i++)
        await quiet.runtime.store.deleteCluster("many", `m${i}`);
    }
  });

  it("commit no etcd proposal over ten rounds", async () => {
    const invocation = await startInvocation(probeDeps(quiet), quiet.settings, true);
    try {
      await round(quiet, invocation); // first sight of the nodes is recorded
      const url = etcd.members[0]!.clientUrl;
      const before = await proposalsCommitted(url);
      const summaries = [];
      for (let i = 0; i < 10; i++) summaries.push(await round(quiet, invocation));
      const after = await proposalsCommitted(url);
      expect(summaries.map((s) => s.probed)).toEqual(Array(10).fill(1));
      expect(summaries.every((s) => s.reports[0]!.stateWritten === false)).toBe(true);
      expect(after - before).toBe(0);

      // The probe's liveness still shows: from the invocation's heartbeat, not the cluster's.
      const state = await quiet.runtime.store.getDoc(
        quiet.runtime.store.keys.probeState("z", "c"),
        ProbeState,
      );
      const now = Date.now() + 30 * 60_000;
      const snapshot = await collectMetrics(quiet.runtime.store, now);
      const age = snapshot.clusters.find((c) => c.cluster === "c")!.lastRoundAgeSeconds!;
      const seen = (await quiet.runtime.store.probeSeen()).get("z/c")!;
      expect(age).toBeCloseTo((now - seen) / 1000, 3);
      expect(seen).toBeGreaterThan(state!.value.last_round!.at);
    } finally {
      await invocation.end();
    }
  }, 30_000);
});
