// Upstream's clients and scripts, unchanged: what they send and what they read back.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../support/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ label: "compat" });
});
afterAll(async () => h.close());

/** A request with exactly the given Content-Type (or none), as curl and other clients send. */
async function raw(method: string, path: string, body: string, contentType?: string) {
  const headers: Record<string, string> = contentType ? { "content-type": contentType } : {};
  const res = await h.app.request(path, { method, body, headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

describe("a JSON body is read whatever its Content-Type says", () => {
  it("accepts curl -d's application/x-www-form-urlencoded", async () => {
    const res = await raw(
      "POST",
      "/api/v1/namespaces",
      '{"namespace":"curl1"}',
      "application/x-www-form-urlencoded",
    );
    expect(res.status).toBe(201);
    expect(res.body.data.namespace).toBe("curl1");
  });

  it("accepts a body with no Content-Type and one with text/plain", async () => {
    expect((await raw("POST", "/api/v1/namespaces", '{"namespace":"curl2"}')).status).toBe(201);
    const plain = await raw("POST", "/api/v1/namespaces", '{"namespace":"curl3"}', "text/plain");
    expect(plain.status).toBe(201);
    const list = await h.request("GET", "/api/v1/namespaces");
    expect(list.body.data.namespaces).toEqual(expect.arrayContaining(["curl2", "curl3"]));
  });

  it("still answers 400 naming the body when it is not JSON", async () => {
    const res = await raw(
      "POST",
      "/api/v1/namespaces",
      "namespace=x",
      "application/x-www-form-urlencoded",
    );
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe("body");
  });

  it("creates a cluster from a form-typed body", async () => {
    const nodes = await h.startNodes(2);
    await h.request("POST", "/api/v1/namespaces", { namespace: "curlc" });
    const res = await raw(
      "POST",
      "/api/v1/namespaces/curlc/clusters",
      JSON.stringify({ name: "c1", nodes: nodes.map((n) => n.addr), replicas: 1 }),
      "application/x-www-form-urlencoded",
    );
    expect(res.status).toBe(201);
    expect(res.body.data.cluster.shards).toHaveLength(2);
  });
});

describe("names as upstream accepts them", () => {
  it("creates, lists, reads and deletes a namespace and cluster named with '@', ':' and spaces", async () => {
    const ns = "team@prod";
    const cl = "orders: eu 1";
    expect((await h.request("POST", "/api/v1/namespaces", { namespace: ns })).status).toBe(201);
    const nodes = await h.startNodes(1);
    const nsPath = `/api/v1/namespaces/${encodeURIComponent(ns)}`;
    const created = await h.request("POST", `${nsPath}/clusters`, {
      name: cl,
      nodes: [nodes[0]!.addr],
    });
    expect(created.status, created.text).toBe(201);
    expect((await h.request("GET", nsPath)).body.data.namespace).toBe(ns);
    expect((await h.request("GET", `${nsPath}/clusters`)).body.data.clusters).toEqual([cl]);
    const clPath = `${nsPath}/clusters/${encodeURIComponent(cl)}`;
    const got = await h.request("GET", clPath);
    expect(got.body.data.cluster.name).toBe(cl);
    expect((await h.request("POST", `${clPath}/sync`)).status).toBe(200);
    expect((await h.request("DELETE", clPath)).status).toBe(204);
    expect((await h.request("DELETE", nsPath)).status).toBe(204);
  });

  it("reads a namespace upstream wrote straight into etcd", async () => {
    await h.etcd.put(`${h.prefix}/metadata/ops@legacy`).value("");
    const list = await h.request("GET", "/api/v1/namespaces");
    expect(list.body.data.namespaces).toContain("ops@legacy");
    const got = await h.request("GET", `/api/v1/namespaces/${encodeURIComponent("ops@legacy")}`);
    expect(got.status).toBe(200);
    expect(
      (await h.request("DELETE", `/api/v1/namespaces/${encodeURIComponent("ops@legacy")}`)).status,
    ).toBe(204);
  });

  it("refuses names that would break a key or a URL, naming the field", async () => {
    for (const bad of ["a/b", "", "a\u0001b", "..", "x".repeat(256)]) {
      const res = await h.request("POST", "/api/v1/namespaces", { namespace: bad });
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.error.field).toBe("namespace");
    }
    // An encoded slash in the path decodes to '/': refused, never a different key.
    const res = await h.request("GET", "/api/v1/namespaces/a%2Fb");
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe("ns");
  });
});

describe("cluster creation and migration as upstream answers them", () => {
  it("reads replicas: 0 as 1", async () => {
    const nodes = await h.startNodes(4);
    await h.request("POST", "/api/v1/namespaces", { namespace: "rep0" });
    const res = await h.request("POST", "/api/v1/namespaces/rep0/clusters", {
      name: "c",
      nodes: nodes.map((n) => n.addr),
      replicas: 0,
    });
    expect(res.status, res.text).toBe(201);
    const shards = res.body.data.cluster.shards;
    expect(shards).toHaveLength(4);
    for (const shard of shards) expect(shard.nodes).toHaveLength(1);
  });

  it("answers a data migration's 202 with the cluster, its migrating_slot set", async () => {
    const nodes = await h.startNodes(2, { migrationDelayMs: 60_000 });
    await h.createCluster("migns", "c", nodes, 1);
    const res = await h.request("POST", "/api/v1/namespaces/migns/clusters/c/migrate", {
      target: 1,
      slot: "0-99",
      slot_only: false,
    });
    expect(res.status, res.text).toBe(202);
    expect(res.body.data.task.ranges).toEqual(["0-99"]);
    const cluster = res.body.data.cluster;
    expect(cluster.name).toBe("c");
    expect(cluster.shards[0].migrating_slot).toBe("0-99");
    expect(cluster.shards[0].target_shard_index).toBe(1);
  });
});
