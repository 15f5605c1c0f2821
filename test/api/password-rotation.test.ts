// Password rotation through the HTTP app, with the real probe: every node moves to the new
// requirepass and masterauth (persisted), etcd stores it, replication links stay up and no
// failover happens under writes; the password is never answered nor logged; a run that
// crashed midway is finished by the next. Runs on real Kvrocks when KVROCKS_BIN is set, on
// the simulator otherwise.
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../lib/log.js";
import { allNodes, type Cluster, masterOf, ProbeState } from "../../lib/model/index.js";
import { listHistory } from "../../lib/ops/index.js";
import { keyFor, round, rounds } from "../probe/helpers.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import type { TestNode } from "../support/nodes.js";

let h: Harness;
let nodes: TestNode[];
let logged: string[];
const base = "/api/v1/namespaces/p/clusters/c";
const OLD = "old-secret-1";
const NEW = "new-secret-2";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One command as `password` (the test node's own `call` keeps the start-up password). */
async function callAs(node: TestNode, password: string, ...args: (string | number)[]) {
  const client = new Redis({
    host: node.host,
    port: node.port,
    protocol: 2,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    enableReadyCheck: false,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    // AUTH sent as a command, so a refused password rejects with the node's own reply.
    await client.call("AUTH", password);
    return await client.call(String(args[0]), ...args.slice(1).map(String));
  } finally {
    client.disconnect();
  }
}

const linkUp = async (node: TestNode, password: string) =>
  /master_link_status:up/.test(String(await callAs(node, password, "INFO", "replication")));

const probeState = async () =>
  (await h.runtime.store.getDoc(h.runtime.store.keys.probeState("p", "c"), ProbeState))?.value;

let cluster: Cluster;
beforeEach(async () => {
  logged = [];
  const log = createLogger("debug", {
    write: (line: string) => {
      logged.push(line);
    },
  });
  h = await startHarness({ label: "password", env: { KVC_PROBE_FAILURES: "2" }, log });
  nodes = await h.startTestNodes(4, { password: OLD });
  cluster = await h.createCluster("p", "c", nodes, 2, OLD);
  for (const n of allNodes(cluster))
    if (n.role === "slave")
      await eventually(() => linkUp(at(n.addr), OLD).catch(() => false), 30_000, 100);
  await round(h);
});
afterEach(async () => h.close());

const at = (addr: string) => nodes.find((n) => n.addr === addr)!;

describe("password rotation", () => {
  it("moves every node to the new password under writes: links stay up, no failover, stored, never answered nor logged", async () => {
    const master = at(masterOf(cluster.shards[0]!)!.addr);
    // Writes on a connection authenticated before the rotation, as a client's would be.
    const writer = new Redis({ host: master.host, port: master.port, password: OLD, protocol: 2 });
    writer.on("error", () => {});
    let writing = true;
    let acked = 0;
    let errors = 0;
    const tag = keyFor(cluster, 0);
    const writes = (async () => {
      for (let i = 0; writing; i++) {
        try {
          await writer.set(`{${tag}}:${i}`, String(i));
          acked++;
        } catch {
          errors++;
          await sleep(5);
        }
      }
    })();
    // Every replica's link, sampled throughout.
    let sampling = true;
    const downs: string[] = [];
    const replicas = allNodes(cluster).filter((n) => n.role === "slave");
    const sampler = (async () => {
      while (sampling) {
        for (const r of replicas) {
          const node = at(r.addr);
          const up =
            (await linkUp(node, OLD).catch(() => null)) ??
            (await linkUp(node, NEW).catch(() => false));
          if (!up) downs.push(r.addr);
        }
        await sleep(20);
      }
    })();
    await sleep(300);
    const res = await h.request("PUT", `${base}/password`, { password: NEW });
    await sleep(1500);
    sampling = false;
    writing = false;
    await Promise.all([sampler, writes]);
    writer.disconnect();
    expect(res.status, res.text).toBe(200);
    expect(res.body.data).toEqual({ nodes: 4, resumed: false });
    expect(downs).toEqual([]);
    expect(acked).toBeGreaterThan(0);
    expect(errors).toBe(0);

    for (const node of nodes) {
      expect(await callAs(node, NEW, "PING")).toBe("PONG");
      await expect(callAs(node, OLD, "PING")).rejects.toThrow(/invalid password|WRONGPASS/i);
      expect(await callAs(node, NEW, "CONFIG", "GET", "masterauth")).toEqual(["masterauth", NEW]);
    }
    const stored = await h.cluster("p", "c");
    expect(allNodes(stored).every((n) => n.password === NEW)).toBe(true);
    expect(stored.version).toBe(cluster.version);

    // The probe (its pool held connections under the old password) manages every node.
    await rounds(h, 3);
    const state = await probeState();
    expect(Object.values(state!.nodes).map((n) => n.unmanageable)).toEqual([
      null,
      null,
      null,
      null,
    ]);
    expect(Object.values(state!.nodes).every((n) => n.failures === 0)).toBe(true);
    expect(await listHistory(h.runtime.store, "p", "c")).toEqual([]);

    // Persisted (CONFIG REWRITE): a restarted node comes back on the new password. The
    // simulator keeps no config file, so only a real node shows it.
    const restarted = at(replicas[0]!.addr);
    if (restarted.real) {
      await restarted.restart();
      expect(await callAs(restarted, NEW, "PING")).toBe("PONG");
      await eventually(() => linkUp(restarted, NEW).catch(() => false), 15_000, 100);
    }
    console.log(`password rotation: ${acked} writes acknowledged during it, ${errors} errors`);

    const answered = (await h.request("GET", base)).text;
    expect(answered).not.toContain(NEW);
    expect(logged.join("\n")).not.toContain(NEW);
    expect(logged.join("\n")).toMatch(/password: rotated on every node/);
  });

  it("finishes a rotation that crashed midway: the probe fails nothing over meanwhile, a repeat completes it", async () => {
    // As a crash after one master took the new password leaves it: the intent stored, etcd
    // still on the old password, one master answering the controller with an auth error.
    const key = `${h.runtime.store.keys.clusterStatePrefix("p", "c")}password-rotation`;
    await h.runtime.store.putDoc(key, { password: NEW, earlier: [], started_at: Date.now() });
    const master = at(masterOf(cluster.shards[0]!)!.addr);
    for (const r of nodes) await callAs(r, OLD, "CONFIG", "SET", "masterauth", NEW);
    await callAs(master, OLD, "CONFIG", "SET", "requirepass", NEW);
    // The probe's kept connections stay authenticated (Kvrocks does not drop them when
    // requirepass changes); a new one is refused, an answer: alive, never failed over.
    await rounds(h, 4);
    await expect(callAs(master, OLD, "PING")).rejects.toThrow(/invalid password|WRONGPASS/i);
    expect(await listHistory(h.runtime.store, "p", "c")).toEqual([]);

    const other = await h.request("PUT", `${base}/password`, { password: "third-secret" });
    expect(other.status).toBe(409);
    expect(other.body.error.message).toMatch(/another password has not finished/);
    expect(other.text).not.toContain(NEW);

    const res = await h.request("PUT", `${base}/password`, { password: NEW });
    expect(res.status, res.text).toBe(200);
    expect(res.body.data.resumed).toBe(true);
    for (const node of nodes) expect(await callAs(node, NEW, "PING")).toBe("PONG");
    expect(await h.runtime.store.listKeys(key)).toEqual([]);
    await rounds(h, 2);
    const after = await probeState();
    expect(Object.values(after!.nodes).every((n) => n.unmanageable === null)).toBe(true);
    for (const r of allNodes(cluster).filter((n) => n.role === "slave"))
      await eventually(() => linkUp(at(r.addr), NEW).catch(() => false), 15_000, 100);
  });

  it("answers 400 naming the field for a bad password, 404 for an unknown cluster", async () => {
    const empty = await h.request("PUT", `${base}/password`, { password: "" });
    expect(empty.status).toBe(400);
    expect(empty.body.error.field).toBe("password");
    const spaced = await h.request("PUT", `${base}/password`, { password: "has space" });
    expect(spaced.status).toBe(400);
    expect(spaced.text).not.toContain("has space");
    const missing = await h.request("PUT", `${base}/password`, {});
    expect(missing.status).toBe(400);
    expect(missing.body.error.field).toBe("password");
    const unknown = await h.request("PUT", "/api/v1/namespaces/p/clusters/nope/password", {
      password: NEW,
    });
    expect(unknown.status).toBe(404);
  });
});
