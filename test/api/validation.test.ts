import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../support/harness.js";

let h: Harness;
const c = "/api/v1/namespaces/v/clusters";
beforeAll(async () => {
  h = await startHarness({ label: "valid" });
  await h.request("POST", "/api/v1/namespaces", { namespace: "v" });
  const nodes = await h.startNodes(2);
  await h.createCluster("v", "c", nodes, 1);
});
afterAll(async () => h.close());

// [description, method, path, body, the field the error must name]
const malformed: [string, string, string, unknown, string][] = [
  ["namespace missing", "POST", "/api/v1/namespaces", {}, "namespace"],
  ["namespace with a slash", "POST", "/api/v1/namespaces", { namespace: "a/b" }, "namespace"],
  ["namespace empty", "POST", "/api/v1/namespaces", { namespace: "" }, "namespace"],
  ["namespace with a newline", "POST", "/api/v1/namespaces", { namespace: "a\nb" }, "namespace"],
  ["namespace '..'", "POST", "/api/v1/namespaces", { namespace: ".." }, "namespace"],
  [
    "namespace over 255 bytes",
    "POST",
    "/api/v1/namespaces",
    { namespace: "é".repeat(128) },
    "namespace",
  ],
  ["namespace not a string", "POST", "/api/v1/namespaces", { namespace: 7 }, "namespace"],
  ["body not JSON", "POST", "/api/v1/namespaces", "{nope", "body"],
  ["cluster name missing", "POST", c, { nodes: ["127.0.0.1:1"] }, "name"],
  ["nodes missing", "POST", c, { name: "x" }, "nodes"],
  ["nodes empty", "POST", c, { name: "x", nodes: [] }, "nodes"],
  ["node not host:port", "POST", c, { name: "x", nodes: ["localhost"] }, "nodes.0"],
  ["port out of range", "POST", c, { name: "x", nodes: ["h:70000"] }, "nodes.0"],
  ["replicas negative", "POST", c, { name: "x", nodes: ["127.0.0.1:1"], replicas: -1 }, "replicas"],
  [
    "replicas not dividing",
    "POST",
    c,
    {
      name: "x",
      nodes: ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"],
      replicas: 2,
      check_nodes: false,
    },
    "nodes",
  ],
  [
    "password not a string",
    "POST",
    c,
    { name: "x", nodes: ["127.0.0.1:1"], password: 1 },
    "password",
  ],
  ["slot reversed", "POST", `${c}/c/migrate`, { target: 1, slot: "12-1", slot_only: true }, "slot"],
  [
    "slot too large",
    "POST",
    `${c}/c/migrate`,
    { target: 1, slot: "1-65536", slot_only: true },
    "slot",
  ],
  ["slot negative", "POST", `${c}/c/migrate`, { target: 1, slot: "-100", slot_only: true }, "slot"],
  [
    "slot list as one string",
    "POST",
    `${c}/c/migrate`,
    { target: 1, slot: "1-12, 5", slot_only: true },
    "slot",
  ],
  [
    "target not an index",
    "POST",
    `${c}/c/migrate`,
    { target: "one", slot: 5, slot_only: true },
    "target",
  ],
  [
    "slot_only not boolean",
    "POST",
    `${c}/c/migrate`,
    { target: 1, slot: 5, slot_only: "yes" },
    "slot_only",
  ],
  [
    "node role unknown",
    "POST",
    `${c}/c/shards/0/nodes`,
    { addr: "127.0.0.1:9", role: "leader" },
    "role",
  ],
  ["node addr missing", "POST", `${c}/c/shards/0/nodes`, { role: "slave" }, "addr"],
  ["shard index not a number", "GET", `${c}/c/shards/abc`, undefined, "shard"],
  [
    "preferred id too short",
    "POST",
    `${c}/c/shards/0/failover`,
    { preferred_node_id: "abc" },
    "preferred_node_id",
  ],
  ["node id too short", "DELETE", `${c}/c/shards/0/nodes/abc`, undefined, "id"],
];

describe("malformed requests", () => {
  it.each(malformed)(
    "%s answers 400 naming the field",
    async (_name, method, path, body, field) => {
      const res = await h.request(method, path, body);
      expect(res.status, res.text).toBe(400);
      expect(res.body.error.message).toContain(field);
    },
  );

  it("answers 413 for a body over the limit", async () => {
    const res = await h.request("POST", "/api/v1/namespaces", {
      namespace: "x".repeat(2 * 1024 * 1024),
    });
    expect(res.status).toBe(413);
  });

  it("answers 404 with a JSON body for an unknown route", async () => {
    const res = await h.request("GET", "/api/v1/nothing");
    expect(res.status).toBe(404);
    expect(res.body.error.message).toMatch(/no route/);
  });
});
