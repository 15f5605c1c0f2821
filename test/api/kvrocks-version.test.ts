// Nodes running a Kvrocks older than the controller needs are refused when they join, unless
// the request says X-Dont-Check-Kvrocks-Version: yes (upstream's header).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIN_KVROCKS_VERSION, supportedVersion } from "../../lib/ops/index.js";
import { type Harness, startHarness } from "../support/harness.js";

let h: Harness;
const DONT_CHECK = { "x-dont-check-kvrocks-version": "yes" };
beforeAll(async () => {
  h = await startHarness({ label: "kvver" });
  await h.request("POST", "/api/v1/namespaces", { namespace: "v" });
});
afterAll(async () => h.close());

describe("Kvrocks version check", () => {
  it("knows 2.10.0 as the minimum and judges releases, not dev builds", () => {
    expect(MIN_KVROCKS_VERSION).toBe("2.10.0");
    expect(supportedVersion("2.10.0")).toBe(true);
    expect(supportedVersion("2.11.1")).toBe(true);
    expect(supportedVersion("3.0.0")).toBe(true);
    expect(supportedVersion("2.9.0")).toBe(false);
    expect(supportedVersion("v2.8.5")).toBe(false);
    expect(supportedVersion("unstable")).toBe(true);
  });

  it("refuses to create a cluster over an old node, naming node and version", async () => {
    const [fresh] = await h.startNodes(1);
    const [old] = await h.startNodes(1, { kvrocksVersion: "2.9.0" });
    const body = { name: "c1", nodes: [fresh!.addr, old!.addr], replicas: 1 };
    const res = await h.request("POST", "/api/v1/namespaces/v/clusters", body);
    expect(res.status, res.text).toBe(400);
    expect(res.body.error.message).toContain(old!.addr);
    expect(res.body.error.message).toContain("2.9.0");
    expect(res.body.error.message).not.toContain(fresh!.addr);
    expect(res.body.error.field).toBe("nodes");
    // Nothing was written, and neither node was given a topology.
    expect((await h.request("GET", "/api/v1/namespaces/v/clusters/c1")).status).toBe(404);
    expect(fresh!.state.version).toBe(-1);

    const forced = await h.request("POST", "/api/v1/namespaces/v/clusters", body, DONT_CHECK);
    expect(forced.status, forced.text).toBe(201);
  });

  it("refuses an old node in a shard or a node added, unless told not to check", async () => {
    const nodes = await h.startNodes(2);
    await h.createCluster("v", "c2", nodes, 1);
    const [old1, old2] = await h.startNodes(2, { kvrocksVersion: "2.8.0" });
    const base = "/api/v1/namespaces/v/clusters/c2";

    const shard = await h.request("POST", `${base}/shards`, { nodes: [old1!.addr] });
    expect(shard.status, shard.text).toBe(400);
    expect(shard.body.error.message).toMatch(new RegExp(`${old1!.addr}.*2\\.8\\.0`));
    const node = await h.request("POST", `${base}/shards/0/nodes`, { addr: old2!.addr });
    expect(node.status, node.text).toBe(400);
    expect(node.body.error.field).toBe("addr");
    expect((await h.cluster("v", "c2")).shards.map((s) => s.nodes.length)).toEqual([1, 1]);

    const scale = await h.request("POST", `${base}/scale`, {
      add_shards: [{ nodes: [old1!.addr] }],
    });
    expect(scale.status, scale.text).toBe(400);
    expect(scale.body.error.message).toContain("2.8.0");

    expect(
      (await h.request("POST", `${base}/shards/0/nodes`, { addr: old2!.addr }, DONT_CHECK)).status,
    ).toBe(201);
  });

  it("refuses to import a cluster of old nodes", async () => {
    const old = await h.startNodes(2, { kvrocksVersion: "2.9.9" });
    // Built with the check off, then forgotten: the nodes keep their topology.
    await h.request(
      "POST",
      "/api/v1/namespaces/v/clusters",
      { name: "c3", nodes: old.map((n) => n.addr) },
      DONT_CHECK,
    );
    await h.request("DELETE", "/api/v1/namespaces/v/clusters/c3");
    const body = { nodes: old.map((n) => n.addr) };
    const res = await h.request("POST", "/api/v1/namespaces/v/clusters/c3/import", body);
    expect(res.status, res.text).toBe(400);
    expect(res.body.error.message).toContain("2.9.9");
    const forced = await h.request(
      "POST",
      "/api/v1/namespaces/v/clusters/c3/import",
      body,
      DONT_CHECK,
    );
    expect(forced.status, forced.text).toBe(201);
  });
});
