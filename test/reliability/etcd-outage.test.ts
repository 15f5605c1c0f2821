// A server process over a private 3-member etcd. One member dies under load: requests keep
// succeeding (a client may retry a 503). A second dies: quorum is gone, so every request
// that needs etcd answers 503 within 3 s, saying so, and nothing is written. Both come back:
// the same process serves again with nobody touching it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allNodes, clusterViolations } from "../../lib/model/index.js";
import { closeEtcd, createEtcd, Store } from "../../lib/store/index.js";
import { EtcdCluster } from "../support/etcd.js";
import { type SimNode, startSimNodes } from "../support/kvrocks-sim/server.js";
import { type Answer, call, type ServerProcess, sleep, spawnServer, waitFor } from "./support.js";

const PREFIX = "/kvc-outage";
const base = "/api/v1/namespaces/o/clusters/c";

let etcd: EtcdCluster;
let server: ServerProcess;
let sims: SimNode[];
// The test's own view of etcd, to check what was stored; it talks to every member.
let reader: ReturnType<typeof createEtcd>;
let store: Store;

/** Addresses nothing listens on (the simulators and etcd bind 127.0.0.1 only). */
const fakeAddr = (i: number) => `127.0.0.2:${20001 + i}`;

async function leaderIndex(): Promise<number> {
  for (;;) {
    for (const [i, m] of etcd.members.entries()) {
      if (!m.process) continue;
      const status = await fetch(`${m.clientUrl}/v3/maintenance/status`, {
        method: "POST",
        body: "{}",
        signal: AbortSignal.timeout(1000),
      })
        .then((r) => r.json() as Promise<{ header: { member_id: string }; leader: string }>)
        .catch(() => null);
      if (status && status.leader !== "0" && status.leader === status.header.member_id) return i;
    }
    await sleep(100);
  }
}

/**
 * Every key under the prefix with its value and mod revision, except the clusters the load
 * writes to and their address claims: what no request may change while quorum is gone.
 */
async function snapshot(): Promise<Record<string, string>> {
  const kvs = await reader.getAll().prefix(PREFIX).exec();
  return Object.fromEntries(
    kvs.kvs
      .map((kv) => [kv.key.toString(), `${kv.mod_revision} ${kv.value.toString()}`] as const)
      .filter(([key]) => !/\/cluster\/w\d$/.test(key) && !/\/claims\/o\/w\d$/.test(key)),
  );
}

beforeAll(async () => {
  etcd = await EtcdCluster.start(3);
  reader = createEtcd({ endpoints: etcd.endpoints, callTimeoutMs: 2000 });
  store = new Store(reader, PREFIX);
  sims = await startSimNodes(2);
  server = await spawnServer({
    KVC_ETCD_ENDPOINTS: etcd.endpoints.join(","),
    KVC_ETCD_PREFIX: PREFIX,
    KVC_ETCD_TIMEOUT_MS: "2000",
    KVC_NODE_TIMEOUT_MS: "500",
  });
  expect((await call(server.base, "POST", "/api/v1/namespaces", { namespace: "o" })).status).toBe(
    201,
  );
  const created = await call(server.base, "POST", "/api/v1/namespaces/o/clusters", {
    name: "c",
    nodes: sims.map((s) => s.addr),
    replicas: 2,
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  closeEtcd(reader);
  await Promise.all((sims ?? []).map((s) => s.close()));
  await etcd?.stop();
});

interface Logical {
  addr: string;
  attempts: Answer[];
  /** Applied as far as the client can tell: 201, or "already in cluster" after a 503. */
  applied: boolean;
}

/** Adds a node, retrying 503s and dropped connections for up to `retryForMs`. */
async function addWithRetries(cl: string, addr: string, retryForMs: number): Promise<Logical> {
  const attempts: Answer[] = [];
  const giveUp = Date.now() + retryForMs;
  const path = `/api/v1/namespaces/o/clusters/${cl}/shards/0/nodes`;
  for (;;) {
    const a = await call(server.base, "POST", path, { addr, role: "slave" });
    attempts.push(a);
    const retried = attempts.length > 1;
    if (a.status === 201) return { addr, attempts, applied: true };
    // An earlier attempt that answered 503 may have committed: the retry then finds it.
    const alreadyThere =
      a.status === 409 && /already in cluster/.test(a.body?.error?.message ?? "");
    if (retried && alreadyThere) return { addr, attempts, applied: true };
    // Address claims are compared across clusters, so four clients adding addresses to four
    // clusters can lose a compare-and-swap race to each other: a 409 that says to try again.
    const lostRace = a.status === 409 && /changed concurrently/.test(a.body?.error?.message ?? "");
    if ((a.status !== 503 && a.status !== 0 && !lostRace) || Date.now() > giveUp) {
      return { addr, attempts, applied: false };
    }
    await sleep(100);
  }
}

const WORKERS = 4;
const clusterPath = (w: number) => `/api/v1/namespaces/o/clusters/w${w}`;

interface Load {
  results: (Logical & { w: number })[];
  reads: Answer[];
  stop(): Promise<void>;
}

/**
 * Four clients, each adding nodes to a cluster of its own (a lost compare-and-swap race is
 * not what this test is about), each add followed by a read.
 */
function startLoad(retryForMs: number, first: number): Load {
  const results: (Logical & { w: number })[] = [];
  const reads: Answer[] = [];
  let next = first;
  let stopped = false;
  const worker = async (w: number) => {
    while (!stopped) {
      results.push({ w, ...(await addWithRetries(`w${w}`, fakeAddr(next++), retryForMs)) });
      reads.push(await call(server.base, "GET", clusterPath(w)));
    }
  };
  const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
  return {
    results,
    reads,
    async stop() {
      stopped = true;
      await Promise.all(workers);
    },
  };
}

const statusesOf = (load: Load) =>
  [...new Set(load.results.flatMap((r) => r.attempts.map((a) => a.status)))].sort().join(",");

describe("a 3-member etcd losing members", () => {
  it("keeps serving with one member down, answers 503 without quorum, and resumes by itself", async () => {
    for (let w = 0; w < WORKERS; w++) {
      const created = await call(server.base, "POST", "/api/v1/namespaces/o/clusters", {
        name: `w${w}`,
        nodes: [fakeAddr(500 + w)],
        check_nodes: false,
      });
      expect(created.status).toBe(201);
    }

    // --- phase 1: the leader is killed in the middle of the load ---
    const one = startLoad(8000, 0);
    await sleep(1000);
    const leader = await leaderIndex();
    await etcd.kill(leader);
    const killedAt = one.results.length;
    await sleep(3000);
    await one.stop();
    console.log(
      `phase 1: leader m${leader} killed after ${killedAt} adds; ${one.results.length} adds, ` +
        `${one.results.filter((r) => r.attempts.length > 1).length} retried ` +
        `(max ${Math.max(...one.results.map((r) => r.attempts.length))} attempts), statuses ${statusesOf(one)}`,
    );
    expect(one.results.length - killedAt).toBeGreaterThan(10);
    // Every request succeeded, retrying 503s at most for a few seconds.
    expect(
      one.results.filter((r) => !r.applied).map((r) => r.attempts.map((a) => [a.status, a.body])),
    ).toEqual([]);
    expect(one.reads.filter((r) => r.status !== 200 && r.status !== 503)).toEqual([]);

    // --- phase 2: a second member dies under load; quorum is gone ---
    const before = await snapshot();
    const { cluster } = await store.getCluster("o", "c");
    const two = startLoad(0, 1000);
    await sleep(800);
    const second = etcd.members.findIndex((m) => m.process !== null);
    await etcd.kill(second);
    const lostAt = Date.now();
    await sleep(2500);
    await two.stop();
    const twoAnswers = two.results.flatMap((r) => r.attempts);
    console.log(
      `phase 2: member m${second} killed; ${two.results.length} adds, statuses ${statusesOf(two)}, ` +
        `slowest ${Math.round(Math.max(...twoAnswers.map((a) => a.ms)))} ms`,
    );
    // Before the kill 201, after it 503; nothing else, and never slower than 3 s.
    expect(
      twoAnswers.filter(
        (a) =>
          (a.status !== 201 &&
            a.status !== 503 &&
            !(a.status === 409 && /changed concurrently/.test(a.body?.error?.message ?? ""))) ||
          a.ms >= 3000,
      ),
    ).toEqual([]);
    expect(twoAnswers.filter((a) => a.status === 503).length).toBeGreaterThan(0);

    // Every route that needs etcd, one by one, once the survivor knows it has no leader.
    await sleep(Math.max(0, lostAt + 1000 - Date.now()));
    const slave = cluster.shards[0]!.nodes.find((n) => n.role === "slave")!;
    const routes: [string, () => Promise<Answer>][] = [
      [
        "add node",
        () => call(server.base, "POST", `${base}/shards/0/nodes`, { addr: fakeAddr(900) }),
      ],
      ["remove node", () => call(server.base, "DELETE", `${base}/shards/0/nodes/${slave.id}`)],
      ["failover", () => call(server.base, "POST", `${base}/shards/0/failover`, {})],
      ["add shard", () => call(server.base, "POST", `${base}/shards`, { nodes: [fakeAddr(901)] })],
      [
        "migrate",
        () =>
          call(server.base, "POST", `${base}/migrate`, { target: 0, slot: "1-2", slot_only: true }),
      ],
      ["sync", () => call(server.base, "POST", `${base}/sync`, {})],
      [
        "create namespace",
        () => call(server.base, "POST", "/api/v1/namespaces", { namespace: "x" }),
      ],
      [
        "create cluster",
        () =>
          call(server.base, "POST", "/api/v1/namespaces/o/clusters", {
            name: "d",
            nodes: [fakeAddr(902)],
            check_nodes: false,
          }),
      ],
      ["delete cluster", () => call(server.base, "DELETE", base)],
      ["delete namespace", () => call(server.base, "DELETE", "/api/v1/namespaces/o")],
      ["get cluster", () => call(server.base, "GET", base)],
      ["list namespaces", () => call(server.base, "GET", "/api/v1/namespaces")],
      ["health", () => call(server.base, "GET", `${base}/health`)],
      ["readyz", () => call(server.base, "GET", "/readyz")],
    ];
    const refused: [string, Answer][] = [];
    for (const [what, send] of routes) refused.push([what, await send()]);
    console.log(
      `phase 2, route by route:\n${refused.map(([w, a]) => `  ${w}: ${a.status} in ${Math.round(a.ms)} ms: ${a.body?.error?.message}`).join("\n")}`,
    );
    const verdicts = refused.map(([what, a]) => ({
      what,
      status: a.status,
      within3s: a.ms < 3000,
      saysEtcd: /^etcd is unreachable: /.test(a.body?.error?.message ?? ""),
    }));
    expect(verdicts).toEqual(
      verdicts.map(({ what }) => ({ what, status: 503, within3s: true, saysEtcd: true })),
    );

    // --- phase 3: both members come back; the same process serves again by itself ---
    const restartAt = Date.now();
    await Promise.all(
      etcd.members.map((m, i) => (m.process === null ? etcd.restart(i) : Promise.resolve())),
    );
    // Nothing was written while quorum was gone: every key, value and revision as before.
    expect(await snapshot()).toEqual(before);

    let resumed: Answer | undefined;
    await waitFor(
      "the server accepts a change again",
      async () => {
        resumed = await call(server.base, "POST", `${base}/shards/0/nodes`, {
          addr: fakeAddr(950),
        });
        return resumed.status !== 503;
      },
      20_000,
      200,
    );
    console.log(`phase 3: serving again ${Date.now() - restartAt} ms after the restarts began`);
    expect(resumed!.status).toBe(201);
    expect((await call(server.base, "GET", "/readyz")).status).toBe(200);

    // Nothing half-written: per cluster, every 201 is there, a 503 is there entirely or not
    // at all, the version rose once per node present, and the claims match every address.
    const everyAddr: string[] = [];
    for (let w = 0; w < WORKERS; w++) {
      const mine = [...one.results, ...two.results].filter((r) => r.w === w);
      const stored = (await store.getCluster("o", `w${w}`)).cluster;
      expect(clusterViolations(stored)).toEqual([]);
      const added = allNodes(stored)
        .map((n) => n.addr)
        .slice(1);
      everyAddr.push(fakeAddr(500 + w), ...added);
      for (const r of mine.filter((r) => r.applied)) expect(added).toContain(r.addr);
      const asked = new Set(mine.map((r) => r.addr));
      expect(added.filter((a) => !asked.has(a))).toEqual([]);
      expect(stored.version).toBe(1 + added.length);
    }
    const final = (await store.getCluster("o", "c")).cluster;
    expect(final.version).toBe(cluster.version + 1);
    everyAddr.push(...allNodes(final).map((n) => n.addr));
    const claims = await reader.getAll().prefix(store.keys.claimsPrefix()).strings();
    expect(
      Object.values(claims)
        .flatMap((doc) => JSON.parse(doc) as string[])
        .sort(),
    ).toEqual(everyAddr.sort());
    expect(server.alive()).toBe(true);
    expect(server.output()).not.toMatch(/unhandled|Unhandled|TypeError|ReferenceError/);
  }, 120_000);
});
