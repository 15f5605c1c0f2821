// Observer quorum (issue 16): with KVC_PROBE_QUORUM=q a master is failed over only once q
// distinct observers judged it down; the owner records a suspicion, witnesses (invocations
// that do not own the cluster) answer it with their own verdict, and nothing is written while
// all is healthy.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { masterOf, ProbeState } from "../../lib/model/index.js";
import { listHistory } from "../../lib/ops/index.js";
import {
  assignClusters,
  type ProbeInvocation,
  probeAllClusters,
  type RunSettings,
  startInvocation,
} from "../../lib/probe/index.js";
import { listMembers } from "../../lib/store/index.js";
import { EtcdCluster } from "../support/etcd.js";
import { proposalsCommitted } from "../support/etcd-metrics.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import type { TestNode } from "../support/nodes.js";
import { TcpProxy } from "../support/tcp-proxy.js";
import { masterSim, probeDeps, round } from "./helpers.js";
import { spawnProbe } from "./process.js";

const INTERVAL_MS = 500;
const QUORUM_ENV = {
  KVC_PROBE_QUORUM: "2",
  KVC_PROBE_FAILURES: "2",
  KVC_PROBE_DOWN_AFTER_MS: "500",
  KVC_PROBE_CONFIRM_EVERY_MS: "100",
  KVC_PROBE_INTERVAL_MS: String(INTERVAL_MS),
  KVC_PROBE_LOCK_TTL_SECONDS: "5",
};

let h: Harness | undefined;
const invocations: ProbeInvocation[] = [];
const loops: Loop[] = [];

afterEach(async () => {
  await Promise.all(loops.splice(0).map((l) => l.stop()));
  await Promise.all(invocations.splice(0).map((i) => i.end()));
  await h?.close();
  h = undefined;
});

/** A member invocation probing from `observer`, as a `--for` run in that zone would. */
async function observerAt(h: Harness, observer: string) {
  const settings: RunSettings = { ...h.settings, observer };
  const invocation = await startInvocation(probeDeps(h), settings, true);
  invocations.push(invocation);
  return {
    invocation,
    round: () => probeAllClusters(probeDeps(h), settings, undefined, invocation),
  };
}

interface Loop {
  stop(): Promise<void>;
  errors: unknown[];
  /** Each round run: when it began and ended, and how many failovers it made. */
  rounds: { began: number; ended: number; failovers: number }[];
}

/** Runs `round` every interval until stopped, as a running invocation does. */
function every(round: () => Promise<{ failovers: number }>, ms: number): Loop {
  let stopped = false;
  const errors: unknown[] = [];
  const rounds: Loop["rounds"] = [];
  const done = (async () => {
    while (!stopped) {
      const began = Date.now();
      const failovers = await round().then(
        (summary) => summary.failovers,
        (err) => {
          errors.push(err);
          return 0;
        },
      );
      rounds.push({ began, ended: Date.now(), failovers });
      await sleep(ms);
    }
  })();
  const loop = {
    errors,
    rounds,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
  loops.push(loop);
  return loop;
}

/** A cluster name that the assignment over these invocations gives to `owner`. */
function nameOwnedBy(ns: string, owner: ProbeInvocation, all: ProbeInvocation[]): string {
  for (let i = 0; i < 1000; i++) {
    const name = `c${i}`;
    const assignment = assignClusters(
      [`${ns}/${name}`],
      all.map((x) => x.id),
    );
    if (assignment.get(`${ns}/${name}`) === owner.id) return name;
  }
  throw new Error("no cluster name assigned to the owner");
}

async function quorumKeys(h: Harness) {
  const { suspicions, votes } = await h.runtime.store.readQuorum();
  return { suspicions, votes };
}

async function health(h: Harness, ns: string, name: string) {
  const res = await h.request("GET", `/api/v1/namespaces/${ns}/clusters/${name}/health`);
  expect(res.status).toBe(200);
  return res.body.data;
}

async function setUp(env: Record<string, string>, observers: string[]) {
  h = await startHarness({ label: "quorum", env });
  const nodes: TestNode[] = await h.startTestNodes(4);
  const started = [];
  for (const o of observers) started.push(await observerAt(h, o));
  const name = nameOwnedBy(
    "q",
    started[0]!.invocation,
    started.map((s) => s.invocation),
  );
  await h.createCluster("q", name, nodes, 2);
  // A running probe has seen the masters before one dies (one it never saw is not failed
  // over on a guess: failover-safety.test.ts).
  await round(h);
  return { h, nodes, name, observers: started };
}

describe("observer quorum", () => {
  it("quorum 2 with one observer: a dead master is not failed over, and health says it waits for a quorum (1 of 2)", async () => {
    const {
      h,
      nodes,
      name,
      observers: [a],
    } = await setUp(QUORUM_ENV, ["zone-a"]);
    const before = await h.cluster("q", name);
    const master = masterSim(nodes, before, 0);
    await master.kill();
    for (let i = 0; i < 3; i++) expect((await a!.round()).failovers).toBe(0);

    expect((await h.cluster("q", name)).version).toBe(before.version);
    const data = await health(h, "q", name);
    expect(data.failover_blocked["0"]).toMatch(/^waiting for quorum: 1 of 2/);
    expect(data.quorum).toEqual([
      expect.objectContaining({
        master_id: masterOf(before.shards[0]!)!.id,
        shard: 0,
        needed: 2,
        down: ["zone-a"],
        up: [],
      }),
    ]);
    // The suspicion hangs off the owner's lease.
    const { suspicions } = await quorumKeys(h);
    expect(suspicions).toHaveLength(1);
    expect(suspicions[0]!.lease).toBe(a!.invocation.lease);

    // The master answers again: the suspicion is removed, from etcd and from health.
    await master.restart();
    await eventually(async () => (await a!.round()).reports[0]!.failed === 0, 20_000, 100);
    expect(await quorumKeys(h)).toEqual({ suspicions: [], votes: [] });
    expect((await health(h, "q", name)).quorum).toEqual([]);
    expect(await listHistory(h.runtime.store, "q", name)).toEqual([]);
  }, 90_000);

  it("a second observer with another name arrives: the master is failed over within about one round of it, and the history names both voters", async () => {
    const {
      h,
      nodes,
      name,
      observers: [a, b],
    } = await setUp(QUORUM_ENV, ["zone-a", "zone-b"]);
    const before = await h.cluster("q", name);
    const master = masterSim(nodes, before, 0);
    await master.kill();
    const owner = every(a!.round, INTERVAL_MS);
    await eventually(async () => (await health(h, "q", name)).quorum.length === 1, 20_000, 100);
    expect((await h.cluster("q", name)).version).toBe(before.version);

    const arrived = Date.now();
    const witness = every(b!.round, INTERVAL_MS);
    await eventually(async () => (await h.cluster("q", name)).version > before.version, 30_000, 50);
    const took = Date.now() - arrived;
    console.log(
      `quorum 2: failed over ${took} ms after the second observer's first round began (interval ${INTERVAL_MS} ms, down-after 500 ms)`,
    );
    await witness.stop();
    await owner.stop();
    expect([...owner.errors, ...witness.errors]).toEqual([]);
    // Counted in rounds, not milliseconds (this machine is shared): the witness votes in
    // its first round, and the owner round running then (it waits within its round for a
    // missing vote) or the first one to begin after it fails the master over.
    const failing = owner.rounds.findIndex((r) => r.failovers > 0);
    expect(failing, JSON.stringify(owner.rounds)).toBeGreaterThanOrEqual(0);
    const failedAt = owner.rounds[failing]!;
    const witnessFirst = witness.rounds[0]!;
    const ownerRoundsAfterVote = owner.rounds.filter(
      (r) => r.began >= witnessFirst.began && r.began <= failedAt.began,
    ).length;
    const witnessRoundsBefore = witness.rounds.filter((r) => r.began < failedAt.began).length;
    console.log(
      `quorum 2: failed over by the owner's round ${ownerRoundsAfterVote} begun since the witness's first (${witnessRoundsBefore} witness rounds began before it)`,
    );
    expect(
      ownerRoundsAfterVote,
      JSON.stringify({ owner: owner.rounds, witness: witness.rounds }),
    ).toBeLessThanOrEqual(1);

    const [record] = await listHistory(h.runtime.store, "q", name);
    expect(record).toMatchObject({ shard: 0, outcome: "promoted", old_master_addr: master.addr });
    expect(record!.voters).toEqual(["zone-a", "zone-b"]);
    // Failed over: the suspicion and every vote on it are gone.
    await eventually(async () => {
      const left = await quorumKeys(h);
      return left.suspicions.length === 0 && left.votes.length === 0;
    }, 10_000);
    expect((await health(h, "q", name)).quorum).toEqual([]);
  }, 90_000);

  it("a down vote older than down-after plus one interval does not count; a fresh one does", async () => {
    const {
      h,
      nodes,
      name,
      observers: [a, b],
    } = await setUp({ ...QUORUM_ENV, KVC_PROBE_INTERVAL_MS: "3000" }, ["zone-a", "zone-b"]);
    const before = await h.cluster("q", name);
    const masterId = masterOf(before.shards[0]!)!.id;
    await masterSim(nodes, before, 0).kill();
    expect((await a!.round()).failovers).toBe(0);
    const vote = (at: number) =>
      h.runtime.store.putVote(
        {
          namespace: "q",
          cluster: name,
          master_id: masterId,
          observer: "zone-b",
          verdict: "down",
          at,
          error: null,
        },
        b!.invocation.lease,
      );
    // The window is down-after (500 ms) plus one interval (3 s).
    expect(await vote(Date.now() - 10_000)).toBe(true);
    expect((await a!.round()).failovers).toBe(0);
    expect((await health(h, "q", name)).quorum[0].down).toEqual(["zone-a"]);
    expect(await vote(Date.now())).toBe(true);
    expect((await a!.round()).failovers).toBe(1);
    const [record] = await listHistory(h.runtime.store, "q", name);
    expect(record!.voters).toEqual(["zone-a", "zone-b"]);
  }, 90_000);

  it("in safe mode no suspicion is raised and nothing is failed over", async () => {
    const {
      h,
      nodes,
      name,
      observers: [a, b],
    } = await setUp(QUORUM_ENV, ["zone-a", "zone-b"]);
    const before = await h.cluster("q", name);
    // Three of four nodes at once: more than the safe-mode ratio (half).
    await Promise.all(nodes.slice(0, 3).map((n) => n.kill()));
    for (let i = 0; i < 3; i++) {
      const [mine, theirs] = await Promise.all([a!.round(), b!.round()]);
      expect(mine.reports[0]!.safeMode).toBe(true);
      expect(mine.failovers + theirs.failovers).toBe(0);
    }
    expect(await quorumKeys(h)).toEqual({ suspicions: [], votes: [] });
    const data = await health(h, "q", name);
    expect(data.safe_mode).toBe(true);
    expect(data.quorum).toEqual([]);
    expect((await h.cluster("q", name)).version).toBe(before.version);
  }, 90_000);

  it("deleting a cluster removes its pending suspicion and the votes on it", async () => {
    const {
      h,
      nodes,
      name,
      observers: [a, b],
    } = await setUp(QUORUM_ENV, ["zone-a", "zone-b"]);
    await masterSim(nodes, await h.cluster("q", name), 0).kill();
    await Promise.all([a!.round(), b!.round()]);
    await b!.round(); // the witness answers the suspicion raised meanwhile
    const left = await quorumKeys(h);
    expect(left.suspicions).toHaveLength(1);
    expect(left.votes).toHaveLength(1);
    expect((await h.request("DELETE", `/api/v1/namespaces/q/clusters/${name}`)).status).toBe(204);
    expect(await quorumKeys(h)).toEqual({ suspicions: [], votes: [] });
  }, 90_000);

  it("an owner that ends takes its suspicion with it, and the witness removes its vote", async () => {
    const {
      h,
      nodes,
      name,
      observers: [a, b],
    } = await setUp(QUORUM_ENV, ["zone-a", "zone-b"]);
    await masterSim(nodes, await h.cluster("q", name), 0).kill();
    await a!.round();
    await b!.round();
    expect((await quorumKeys(h)).votes.map((v) => v.lease)).toEqual([b!.invocation.lease]);
    await a!.invocation.end();
    expect((await quorumKeys(h)).suspicions).toEqual([]);
    // zone-b takes the cluster over and suspects the master itself; its old vote is gone.
    await b!.round();
    const left = await quorumKeys(h);
    expect(left.votes).toEqual([]);
    expect(left.suspicions.map((s) => [s.lease, s.observer])).toEqual([
      [b!.invocation.lease, "zone-b"],
    ]);
  }, 90_000);

  it("two invocations with the same observer name are one observer: no failover", async () => {
    const {
      h,
      nodes,
      name,
      observers: [a, b],
    } = await setUp(QUORUM_ENV, ["zone-a", "zone-a"]);
    const before = await h.cluster("q", name);
    await masterSim(nodes, before, 0).kill();
    for (let i = 0; i < 3; i++) {
      const [mine, theirs] = await Promise.all([a!.round(), b!.round()]);
      expect(mine.failovers + theirs.failovers).toBe(0);
    }
    expect((await quorumKeys(h)).votes.length).toBeGreaterThan(0);
    expect((await health(h, "q", name)).failover_blocked["0"]).toMatch(
      /^waiting for quorum: 1 of 2/,
    );
    expect((await h.cluster("q", name)).version).toBe(before.version);
  }, 90_000);

  it("a new owner confirms for itself: another owner's pending quorum is not its verdict", async () => {
    // A slow confirmation (down-after 3 s) and a short probe deadline, so a 600 ms stall fails
    // the round's probe and answers during the confirmation.
    const env = { ...QUORUM_ENV, KVC_PROBE_DOWN_AFTER_MS: "3000", KVC_PROBE_TIMEOUT_MS: "300" };
    const {
      h,
      nodes,
      name,
      observers: [b],
    } = await setUp(env, ["zone-b"]);
    const cluster = await h.cluster("q", name);
    const master = masterOf(cluster.shards[0]!)!;
    // As a former owner (zone-a, cut off from the master) left it: waiting at 1 of 2.
    const key = h.runtime.store.keys.probeState("q", name);
    const state = ProbeState.parse({
      nodes: {
        [master.id]: {
          addr: master.addr,
          failures: 3,
          down: true,
          last_ok: Date.now() - 2500,
          last_error: "did not answer",
          version: cluster.version,
          role: "master",
        },
      },
      quorum: {
        [master.id]: {
          shard: 0,
          addr: master.addr,
          since: Date.now() - 2000,
          needed: 2,
          down: ["zone-a"],
          up: [],
          owner_lease: "1234",
        },
      },
      masters_seen: [master.id],
    });
    const written = await h.runtime.store.getDoc(key, ProbeState);
    await h.runtime.store.putDoc(key, state, { expectRevision: written?.revision ?? "absent" });
    const node = masterSim(nodes, cluster, 0);
    await node.pause();
    const resumed = sleep(600).then(() => node.resume());
    const report = (await b!.round()).reports[0]!;
    await resumed;
    expect(report.blocked).toEqual({});
    expect(report.failovers).toEqual([]);
    expect(report.pendingQuorum).toEqual([]);
    expect(await quorumKeys(h)).toEqual({ suspicions: [], votes: [] });
  }, 90_000);

  it("a suspicion follows its master when a lower shard is removed: witnesses still vote, and it is failed over", async () => {
    const {
      h,
      nodes,
      name,
      observers: [a, b],
    } = await setUp(QUORUM_ENV, ["zone-a", "zone-b"]);
    const base = `/api/v1/namespaces/q/clusters/${name}`;
    // Shard 0 gives its slots to shard 1 and becomes empty.
    const moved = await h.request("POST", `${base}/migrate`, {
      target: 1,
      slot: "0-8191",
      slot_only: true,
    });
    expect(moved.status, moved.text).toBe(200);
    const before = await h.cluster("q", name);
    const master = masterOf(before.shards[1]!)!;
    await masterSim(nodes, before, 1).kill();
    await a!.round();
    expect((await quorumKeys(h)).suspicions.map((s) => s.shard)).toEqual([1]);
    expect((await h.request("DELETE", `${base}/shards/0`)).status).toBe(204);
    // The dead master is now shard 0's.
    await eventually(
      async () => {
        await Promise.all([a!.round(), b!.round()]);
        return masterOf((await h.cluster("q", name)).shards[0]!)!.id !== master.id;
      },
      30_000,
      50,
    );
    const [record] = await listHistory(h.runtime.store, "q", name);
    expect(record!.voters).toEqual(["zone-a", "zone-b"]);
  }, 90_000);

  it("a suspicion no round holds any more is removed by its owner, and witnesses stop voting", async () => {
    const {
      h,
      name,
      observers: [a, b],
    } = await setUp(QUORUM_ENV, ["zone-a", "zone-b"]);
    const cluster = await h.cluster("q", name);
    const master = masterOf(cluster.shards[0]!)!;
    // Left by a round that failed after writing it (the probe state never recorded it).
    await h.runtime.store.putSuspicion(
      {
        namespace: "q",
        cluster: name,
        master_id: master.id,
        master_addr: master.addr,
        shard: 0,
        since: Date.now(),
        observer: "zone-a",
      },
      a!.invocation.lease,
    );
    await b!.round();
    expect((await quorumKeys(h)).votes.map((v) => v.verdict)).toEqual(["up"]);
    await a!.round();
    expect((await quorumKeys(h)).suspicions).toEqual([]);
    await b!.round();
    expect(await quorumKeys(h)).toEqual({ suspicions: [], votes: [] });
    // The stale suspicion named a live master: nothing was failed over on its account.
    const after = await h.cluster("q", name);
    expect(after.version).toBe(cluster.version);
    expect(masterOf(after.shards[0]!)!.id).toBe(master.id);
    expect(await listHistory(h.runtime.store, "q", name)).toEqual([]);
  }, 90_000);

  it("quorum 1 fails over on the owner's judgement alone, as before, and writes no suspicion", async () => {
    const {
      h,
      nodes,
      name,
      observers: [a],
    } = await setUp({ ...QUORUM_ENV, KVC_PROBE_QUORUM: "1" }, ["zone-a", "zone-b"]);
    const before = await h.cluster("q", name);
    await masterSim(nodes, before, 0).kill();
    expect((await a!.round()).failovers).toBe(1);
    expect(await quorumKeys(h)).toEqual({ suspicions: [], votes: [] });
    const [record] = await listHistory(h.runtime.store, "q", name);
    expect(record!.outcome).toBe("promoted");
    expect(record!.voters).toBeUndefined();
  }, 90_000);
});

describe("an observer partitioned from a healthy master", () => {
  it("suspects it, another observer reaches it and says so: no failover", async () => {
    h = await startHarness({ label: "quorum-cut", env: QUORUM_ENV });
    const nodes = await h.startTestNodes(4);
    // zone-b, a separate probe process, sees the master-to-be (first node of shard 0) only
    // through a proxy the test controls; zone-a, this process, dials it directly.
    const proxy = await TcpProxy.start(nodes[0]!.addr);
    const zoneB = spawnProbe(
      h.prefix,
      ["--for", "120s", "--every", `${INTERVAL_MS}ms`],
      {
        ...QUORUM_ENV,
        KVC_PROBE_OBSERVER: "zone-b",
        KVC_TEST_CONNECT_REDIRECT: `${nodes[0]!.addr}=${proxy.addr}`,
      },
      ["--import", "./test/support/connect-redirect.ts"],
    );
    try {
      const keys = h.runtime.store.keys;
      let member: Awaited<ReturnType<typeof listMembers>>[number] | undefined;
      await eventually(
        async () => {
          member = (await listMembers(h!.etcd, keys)).find((m) => m.observer === "zone-b");
          return member !== undefined;
        },
        60_000,
        100,
      );
      const a = await observerAt(h, "zone-a");
      // The partitioned observer owns the cluster: it is the one that would fail it over.
      let name = "";
      for (let i = 0; i < 1000 && !name; i++) {
        const assignment = assignClusters([`q/c${i}`], [member!.id, a.invocation.id]);
        if (assignment.get(`q/c${i}`) === member!.id) name = `c${i}`;
      }
      await h.createCluster("q", name, nodes, 2);
      const before = await h.cluster("q", name);
      expect(masterOf(before.shards[0]!)!.addr).toBe(nodes[0]!.addr);
      const witness = every(a.round, INTERVAL_MS);
      // Healthy through the proxy first: the owner probes it and suspects nothing.
      await eventually(async () => (await health(h!, "q", name)).nodes[0].probed, 30_000, 100);
      expect(await quorumKeys(h)).toEqual({ suspicions: [], votes: [] });

      proxy.cut();
      let pending: unknown;
      await eventually(
        async () => {
          [pending] = (await health(h!, "q", name)).quorum;
          return (pending as { up?: string[] } | undefined)?.up?.length === 1;
        },
        30_000,
        100,
      );
      expect(pending).toMatchObject({ down: ["zone-b"], up: ["zone-a"], needed: 2 });
      expect((await health(h, "q", name)).failover_blocked["0"]).toMatch(
        /^waiting for quorum: 1 of 2 .*answering for zone-a/,
      );
      // Several more rounds of both: still the same master, no history.
      await sleep(4 * (INTERVAL_MS + 500));
      expect(await h.cluster("q", name)).toEqual(before);
      expect(await listHistory(h.runtime.store, "q", name)).toEqual([]);
      expect(zoneB.output()).toMatch(/waiting for quorum: 1 of 2/);

      // The partition heals: the suspicion and the votes on it go.
      proxy.heal();
      await eventually(async () => {
        const left = await quorumKeys(h!);
        return left.suspicions.length === 0 && left.votes.length === 0;
      }, 30_000);
      await witness.stop();
      expect(witness.errors).toEqual([]);
    } finally {
      zoneB.child.kill("SIGKILL");
      await zoneB.exited;
      await proxy.close();
    }
  }, 120_000);
});

describe("observer quorum while all is healthy", () => {
  let etcd: EtcdCluster;
  let quiet: Harness;

  beforeAll(async () => {
    // A private etcd: its proposal counter then counts this test's writes only.
    etcd = await EtcdCluster.start(1);
    quiet = await startHarness({
      label: "quorum-zero",
      env: { ...QUORUM_ENV, KVC_ETCD_ENDPOINTS: etcd.endpoints.join(",") },
    });
  }, 30_000);
  afterAll(async () => {
    await quiet?.close();
    await etcd?.stop();
  });

  it("an owner and a witness commit no etcd proposal over ten healthy rounds", async () => {
    const a = await observerAt(quiet, "zone-a");
    const b = await observerAt(quiet, "zone-b");
    try {
      const name = nameOwnedBy("z", a.invocation, [a.invocation, b.invocation]);
      await quiet.createCluster("z", name, await quiet.startTestNodes(4), 2);
      await a.round(); // first sight of the nodes is recorded
      await b.round();
      const url = etcd.members[0]!.clientUrl;
      const before = await proposalsCommitted(url);
      for (let i = 0; i < 10; i++) {
        const [mine, theirs] = await Promise.all([a.round(), b.round()]);
        expect(mine.probed).toBe(1);
        expect(theirs.probed).toBe(0);
        expect(mine.reports[0]!.stateWritten).toBe(false);
        expect(theirs.witnessed).toBe(0);
      }
      expect((await proposalsCommitted(url)) - before).toBe(0);
    } finally {
      await Promise.all(invocations.splice(0).map((i) => i.end()));
    }
  }, 60_000);
});
