// Commands to a cluster's nodes through the API, and the topology pushed to one node.
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../lib/log.js";
import { type Harness, startHarness } from "../support/harness.js";
import type { SimNode } from "../support/kvrocks-sim/server.js";

const logged: string[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    logged.push(String(chunk));
    done();
  },
});

let h: Harness;
let nodes: SimNode[];
const FULL = { authorization: "Bearer admin" };
const VIEWER = { authorization: "Bearer viewer" };
const path = "/api/v1/namespaces/cmd/clusters/c/commands";

beforeAll(async () => {
  h = await startHarness({
    label: "cmd",
    env: { KVC_API_TOKENS: "admin", KVC_READONLY_TOKENS: "viewer" },
    log: createLogger("info", sink),
  });
  nodes = await h.startNodes(4, { password: "node-secret" });
  await h.request("POST", "/api/v1/namespaces", { namespace: "cmd" }, FULL);
  const created = await h.request(
    "POST",
    "/api/v1/namespaces/cmd/clusters",
    { name: "c", nodes: nodes.map((n) => n.addr), replicas: 2, password: "node-secret" },
    FULL,
  );
  if (created.status !== 201) throw new Error(created.text);
});
afterAll(async () => h.close());

const send = (body: unknown, headers: Record<string, string> = FULL) =>
  h.request("POST", path, body, headers);

describe("commands to the nodes", () => {
  it("sends a command to every node and answers each reply", async () => {
    const res = await send({ command: ["CONFIG", "GET", "maxclients"] });
    expect(res.status, res.text).toBe(200);
    expect(res.body.data.command).toBe("CONFIG");
    const results = res.body.data.results;
    expect(results.map((r: { addr: string }) => r.addr).sort()).toEqual(
      nodes.map((n) => n.addr).sort(),
    );
    for (const r of results) {
      expect(r.ok).toBe(true);
      expect(r.reply).toEqual(["maxclients", "10240"]);
    }
  });

  it("reaches masters only, replicas only, or one node by address or id", async () => {
    const cluster = await h.cluster("cmd", "c");
    const masters = cluster.shards.map((s) => s.nodes[0]!.addr).sort();
    const replicas = cluster.shards.map((s) => s.nodes[1]!.addr).sort();
    const addrsOf = (r: { body: { data: { results: { addr: string }[] } } }) =>
      r.body.data.results.map((x) => x.addr).sort();
    expect(addrsOf(await send({ command: ["PING"], target: "masters" }))).toEqual(masters);
    expect(addrsOf(await send({ command: ["PING"], target: "replicas" }))).toEqual(replicas);
    const one = await send({ command: ["ROLE"], node: replicas[0] });
    expect(addrsOf(one)).toEqual([replicas[0]]);
    expect(one.body.data.results[0].role).toBe("slave");
    const byId = await send({ command: ["PING"], node: cluster.shards[1]!.nodes[0]!.id });
    expect(addrsOf(byId)).toEqual([cluster.shards[1]!.nodes[0]!.addr]);
    const missing = await send({ command: ["PING"], node: "127.0.0.1:1" });
    expect(missing.status).toBe(404);
  });

  it("finds a node named in another spelling of its address (127.1, a padded port)", async () => {
    const addr = (await h.cluster("cmd", "c")).shards[0]!.nodes[1]!.addr;
    const port = addr.split(":")[1]!;
    for (const spelling of [`127.1:${port}`, `127.0.0.1:0${port}`, ` 127.0.0.1:${port} `]) {
      const res = await send({ command: ["ROLE"], node: spelling });
      expect(res.status, `${spelling}: ${res.text}`).toBe(200);
      expect(res.body.data.results.map((r: { addr: string }) => r.addr)).toEqual([addr]);
    }
  });

  it("answers a node's error and a node that is down next to the others' replies", async () => {
    const down = nodes[3]!;
    await down.stop();
    try {
      const res = await send({ command: ["CONFIG", "SET", "nosuch", "1"] });
      expect(res.status).toBe(200);
      // One answer per node, the down one included.
      expect(res.body.data.results.map((r: { addr: string }) => r.addr).sort()).toEqual(
        nodes.map((n) => n.addr).sort(),
      );
      for (const r of res.body.data.results) {
        expect(r.ok).toBe(false);
        if (r.addr === down.addr) expect(r.error).toMatch(/ECONNREFUSED|closed|connect/i);
        else expect(r.error).toMatch(/nosuch/);
      }
    } finally {
      await down.start();
    }
  });

  it("never answers the nodes' password", async () => {
    const res = await send({ command: ["CONFIG", "GET", "*"] });
    expect(JSON.stringify(res.body)).not.toContain("node-secret");
    const reply: string[] = res.body.data.results[0].reply;
    expect(reply[reply.indexOf("requirepass") + 1]).toBe("******");
    expect(reply[reply.indexOf("masterauth") + 1]).toBe("******");
    expect(reply[reply.indexOf("maxclients") + 1]).toBe("10240");
  });

  it.each([
    [["CLUSTERX", "SETNODEID", "x".repeat(40)], /CLUSTERX SETNODEID/],
    [["cluster", "reset"], /CLUSTER RESET/],
    [["SLAVEOF", "NO", "ONE"], /SLAVEOF/],
    [["replicaof", "127.0.0.1", "1"], /REPLICAOF/],
    [["SHUTDOWN"], /SHUTDOWN/],
    [["MONITOR"], /MONITOR/],
    [["SUBSCRIBE", "ch"], /SUBSCRIBE/],
    [["PSUBSCRIBE", "*"], /PSUBSCRIBE/],
    [["SYNC"], /SYNC/],
    [["PSYNC", "?", "-1"], /PSYNC/],
    [["FLUSHALL"], /force/],
    [["flushdb"], /force/],
    [[], /command/],
  ])("refuses %j with 400 naming the reason", async (command, reason) => {
    const res = await send({ command });
    expect(res.status, res.text).toBe(400);
    expect(res.body.error.field).toBe("command");
    expect(res.body.error.message).toMatch(reason);
  });

  it("sends FLUSHALL when the request says force", async () => {
    nodes[0]!.write("k", "v");
    const res = await send({ command: ["FLUSHALL"], force: true, target: "masters" });
    expect(res.status, res.text).toBe(200);
    expect(nodes[0]!.read("k")).toBeUndefined();
  });

  it("lets a read-only token send read-only commands, and only those", async () => {
    const info = await send({ command: ["INFO", "server"] }, VIEWER);
    expect(info.status, info.text).toBe(200);
    expect(info.body.data.results[0].reply).toContain("kvrocks_version");
    expect((await send({ command: ["config", "get", "maxclients"] }, VIEWER)).status).toBe(200);
    const set = await send({ command: ["CONFIG", "SET", "maxclients", "10"] }, VIEWER);
    expect(set.status).toBe(403);
    expect(set.body.error.message).toMatch(/read-only.*CONFIG SET/);
    expect((await send({ command: ["SET", "k", "v"] }, VIEWER)).status).toBe(403);
    expect((await send({ command: ["PING"] }, { authorization: "Bearer nope" })).status).toBe(401);
    expect((await send({ command: ["PING"] }, {})).status).toBe(401);
    // Other writes stay closed to a read-only token.
    expect((await h.request("POST", "/api/v1/namespaces", { namespace: "x" }, VIEWER)).status).toBe(
      403,
    );
  });

  it("logs the command name, never a password it carries", async () => {
    logged.length = 0;
    // The password it already has: the nodes (real or simulated) apply CONFIG SET requirepass.
    await send({ command: ["CONFIG", "SET", "requirepass", "node-secret"] });
    await send({ command: ["AUTH", "new-secret-2"] });
    await send({ command: ["MIGRATE", "127.0.0.1", "1", "k", "0", "100", "AUTH", "new-secret-3"] });
    await send({
      command: ["MIGRATE", "127.0.0.1", "1", "k", "0", "100", "AUTH2", "u", "new-secret-4"],
    });
    await send({ command: ["CONFIG", "GET", "maxclients"] });
    const lines = logged.join("");
    // CONFIG SET requirepass is refused before it is sent: its audit line is all there is.
    expect(lines).toContain('"status":403');
    expect(lines).toContain('"command":"AUTH"');
    expect(lines).toContain('"command":"CONFIG GET"');
    expect(lines).not.toContain("new-secret");
    expect(lines).not.toContain("node-secret");
  });
});

describe("sync one node", () => {
  it("pushes the stored topology to the named node only", async () => {
    // A change the nodes missed: etcd is one version ahead of every node.
    const before = (await h.cluster("cmd", "c")).version;
    const { cluster } = await h.runtime.store.updateCluster("cmd", "c", (c) => ({
      ...c,
      version: c.version + 1,
    }));
    const [target, other] = [nodes[0]!, nodes[1]!];
    const res = await h.request(
      "POST",
      "/api/v1/namespaces/cmd/clusters/c/sync",
      { node: target.addr },
      FULL,
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.data.results).toEqual([{ id: target.state.id, addr: target.addr, ok: true }]);
    expect(target.state.version).toBe(cluster.version);
    expect(other.state.version).toBe(before);
    const byId = await h.request(
      "POST",
      "/api/v1/namespaces/cmd/clusters/c/sync",
      { node: other.state.id },
      FULL,
    );
    expect(byId.body.data.results[0].addr).toBe(other.addr);
    expect(other.state.version).toBe(cluster.version);
    const missing = await h.request(
      "POST",
      "/api/v1/namespaces/cmd/clusters/c/sync",
      { node: "127.0.0.1:1" },
      FULL,
    );
    expect(missing.status).toBe(404);
  });
});
