// A controller that answers a data migration without a task (upstream's does): `--wait`
// follows the cluster itself until the source shard stops migrating.
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Kvctl } from "./harness.js";

const node = (id: string, role: string) => ({ id: id.repeat(40), addr: `10.0.0.${id}:6666`, role });

function clusterAt(step: number, outcome: "ok" | "fail") {
  const migrating = step < 3;
  const moved = !migrating && outcome === "ok";
  return {
    name: "c",
    version: moved ? 2 : 1,
    shards: [
      {
        nodes: [node("1", "master")],
        slot_ranges: moved ? ["100-8191"] : ["0-8191"],
        target_shard_index: migrating ? 1 : -1,
        migrating_slot: migrating ? "0-99" : null,
      },
      {
        nodes: [node("2", "master")],
        slot_ranges: moved ? ["0-99", "8192-16383"] : ["8192-16383"],
        target_shard_index: -1,
        migrating_slot: null,
      },
    ],
  };
}

let server: Server;
let url: string;
let outcome: "ok" | "fail" = "ok";
let reads = 0;
const kvctl = new Kvctl({ KVCTL_POLL_MS: "50" });

beforeAll(async () => {
  server = createServer((req, res) => {
    res.setHeader("content-type", "application/json");
    if (req.method === "POST" && req.url?.endsWith("/migrate")) {
      reads = 0;
      res.end(JSON.stringify({ data: null }));
    } else if (req.method === "GET" && req.url === "/api/v1/namespaces/ns/clusters/c") {
      res.end(JSON.stringify({ data: { cluster: clusterAt(reads++, outcome) } }));
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ error: { message: `no route for ${req.method} ${req.url}` } }));
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
});
afterAll(() => {
  server?.close();
  kvctl.cleanup();
});

describe("--wait without tasks", () => {
  const args = () => [
    "migrate",
    "slot",
    "0-99",
    "--target",
    "1",
    "--wait",
    "-n",
    "ns",
    "-c",
    "c",
    "-H",
    url,
  ];

  it("watches the cluster until the slots are on the target", async () => {
    outcome = "ok";
    const r = await kvctl.run(args());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^migration 0-99 -> shard 1: running, 0\/100 slots \(0%\), range 0-99/m,
    );
    expect(r.stderr).toMatch(/^migration 0-99 -> shard 1: finished, 100\/100 slots \(100%\)/m);
    expect(r.stdout).toMatch(/^slots 0-99 -> shard 1: done/);
  });

  it("exits 1 when the migration stops before the slots arrive", async () => {
    outcome = "fail";
    const r = await kvctl.run(args());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: migration of 0-99 stopped before every slot reached shard 1/);
  });
});
