// CLUSTER / CLUSTERX details beyond the transcript, checked against Kvrocks's source.

import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SimNode, startSimNodes, stopAll } from "../support/kvrocks-sim/server.js";
import { A, B, C, call, client, errorOf, nodesText, pushTopology } from "./helpers.js";

let n1: SimNode;
let n2: SimNode;
let n3: SimNode;
let c1: Redis;
let c2: Redis;
let c3: Redis;
let version = 0;

const base = () =>
  nodesText([
    { id: A, node: n1, slots: "0-8191" },
    { id: B, node: n2, slots: "8192-16383" },
    { id: C, node: n3, masterOf: A },
  ]);

beforeAll(async () => {
  [n1, n2, n3] = (await startSimNodes(3)) as [SimNode, SimNode, SimNode];
  [c1, c2, c3] = await Promise.all([client(n1), client(n2), client(n3)]);
});

afterAll(async () => {
  for (const c of [c1, c2, c3]) c.disconnect();
  await stopAll();
});

async function push(text = base()): Promise<void> {
  version++;
  expect(await pushTopology([c1, c2, c3], text, version)).toEqual(["OK", "OK", "OK"]);
}

describe("CLUSTERX SETNODES", () => {
  it("finds its own id by address when none was set", async () => {
    await push();
    expect(await call(c1, "CLUSTERX", "MYID")).toBe(A);
    expect(await call(c3, "CLUSTERX", "MYID")).toBe(C);
  });

  it("accepts 'replica' for slave and any case for roles", async () => {
    const text = base().replace(" slave ", " REPLICA ").replace(" master ", " Master ");
    await push(text);
    expect(n3.state.role).toBe("slave");
  });

  it("refuses a range whose ends are equal, and two lines run together", async () => {
    const next = version + 1;
    expect(
      await errorOf(call(c1, "CLUSTERX", "SETNODES", `${A} 127.0.0.1 1 master - 5-5`, next)),
    ).toBe("ERR Slot is out of range");
    expect(
      await errorOf(
        call(
          c1,
          "CLUSTERX",
          "SETNODES",
          `${A} 127.0.0.1 1 master - 0-5 ${B} 127.0.0.1 2 master -`,
          next,
        ),
      ),
    ).toBe("ERR Invalid nodes definition: Missing newline between node entries.");
    expect(await errorOf(call(c1, "CLUSTERX", "SETNODES", "", next))).toBe(
      "ERR Invalid cluster nodes info",
    );
    expect(await errorOf(call(c1, "CLUSTERX", "SETNODES", base(), -1, "force"))).toBe(
      "ERR Invalid cluster version",
    );
    expect(await call(c1, "CLUSTERX", "VERSION")).toBe(String(version));
  });

  it("answers the CLUSTERX usage line for unknown or malformed subcommands", async () => {
    const usage = "ERR CLUSTERX command, CLUSTERX VERSION|MYID|SETNODEID|SETNODES|SETSLOT|MIGRATE";
    expect(await errorOf(call(c1, "CLUSTERX", "FOO"))).toBe(usage);
    expect(await errorOf(call(c1, "CLUSTERX", "VERSION", "x"))).toBe(usage);
    expect(await errorOf(call(c1, "CLUSTERX", "SETNODES", base()))).toBe(usage);
    expect(await errorOf(call(c1, "CLUSTERX"))).toBe("ERR wrong number of arguments");
  });
});

describe("CLUSTERX SETSLOT", () => {
  it("moves slots to a master at version + 1", async () => {
    await push();
    const next = version + 1;
    expect(await call(c1, "CLUSTERX", "SETSLOT", "0-99 200", "NODE", B, next)).toBe("OK");
    version = next;
    expect(await call(c1, "CLUSTERX", "VERSION")).toBe(String(next));
    const nodes = (await call(c1, "CLUSTER", "NODES")) as string;
    expect(nodes.split("\n").find((l) => l.startsWith(B))).toMatch(
      / connected 0-99 200 8192-16383$/,
    );
    expect(nodes.split("\n").find((l) => l.startsWith(A))).toMatch(/ connected 100-199 201-8191$/);
  });

  it("validates its arguments like Kvrocks", async () => {
    const v = version + 1;
    expect(await errorOf(call(c1, "CLUSTERX", "SETSLOT", 1, "TO", B, v))).toBe(
      "ERR Invalid setslot options",
    );
    expect(await errorOf(call(c1, "CLUSTERX", "SETSLOT", 1, "NODE", "abc", v))).toBe(
      "ERR Invalid node id",
    );
    expect(await errorOf(call(c1, "CLUSTERX", "SETSLOT", 1, "NODE", B, "x"))).toBe(
      "ERR value is not an integer or out of range",
    );
    expect(await errorOf(call(c1, "CLUSTERX", "SETSLOT", 1, "NODE", B, -2))).toBe(
      "ERR Invalid version",
    );
    expect(await errorOf(call(c1, "CLUSTERX", "SETSLOT", 1, "NODE", "e".repeat(40), v))).toBe(
      "ERR No this node in the cluster",
    );
  });
});

describe("CLUSTER", () => {
  it("REPLICAS lists a master's replicas in CLUSTER NODES format", async () => {
    await push();
    const text = (await call(c1, "CLUSTER", "REPLICAS", A)) as string;
    expect(text).toMatch(
      new RegExp(
        `^${C} 127\\.0\\.0\\.1:${n3.port}@${n3.port + 10000} slave ${A} \\d+ \\d+ ${version} connected\n$`,
      ),
    );
    expect(await errorOf(call(c1, "CLUSTER", "REPLICAS", C))).toBe("ERR The node isn't a master");
  });

  it("answers its usage line for anything it does not know", async () => {
    expect(await errorOf(call(c1, "CLUSTER", "FORGET", A))).toBe(
      "ERR CLUSTER command, CLUSTER INFO|NODES|SLOTS|KEYSLOT|RESET|REPLICAS",
    );
    expect(await errorOf(call(c1, "CLUSTER", "RESET", "medium"))).toBe("ERR syntax error");
  });

  it("RESET refuses a node holding keys, and forgets everything on an empty one", async () => {
    await call(c1, "SET", "bar", "1");
    expect(await errorOf(call(c1, "CLUSTER", "RESET"))).toBe(
      "ERR Can't reset cluster while database is not empty",
    );
    expect(await call(c2, "CLUSTER", "RESET", "HARD")).toBe("OK");
    expect(await call(c2, "CLUSTERX", "VERSION")).toBe("-1");
    expect(await call(c2, "CLUSTERX", "MYID")).toBe("");
    expect(await errorOf(call(c2, "CLUSTER", "INFO"))).toBe(
      "CLUSTERDOWN The cluster is not initialized",
    );
    // nodes.conf is gone too: a restart does not bring the topology back.
    await n2.stop();
    await n2.start();
    const fresh = await client(n2);
    expect(await call(fresh, "CLUSTERX", "VERSION")).toBe("-1");
    fresh.disconnect();
  });
});

describe("connection commands", () => {
  it("CLIENT SETNAME / GETNAME / ID, and Kvrocks's usage line for the rest", async () => {
    expect(await call(c1, "CLIENT", "GETNAME")).toBe(null);
    expect(await call(c1, "CLIENT", "SETNAME", "probe")).toBe("OK");
    expect(await call(c1, "CLIENT", "GETNAME")).toBe("probe");
    expect(typeof (await call(c1, "CLIENT", "ID"))).toBe("number");
    expect(await errorOf(call(c1, "CLIENT", "SETINFO", "LIB-NAME", "x"))).toBe(
      "ERR Syntax error, try CLIENT LIST|INFO|KILL ip:port|GETNAME|SETNAME",
    );
  });

  it("HELLO refuses bad protocol versions and options", async () => {
    expect(await errorOf(call(c1, "HELLO", "x"))).toBe(
      "ERR Protocol version is not an integer or out of range",
    );
    expect(await errorOf(call(c1, "HELLO", 4))).toBe("NOPROTO unsupported protocol version");
    expect(await errorOf(call(c1, "HELLO", 2, "FOO"))).toBe("ERR Syntax error in HELLO option FOO");
    expect(await errorOf(call(c1, "HELLO", 3, "AUTH", "default", "x"))).toBe(
      "ERR Client sent AUTH, but no password is set",
    );
    expect(await call(c3, "HELLO")).toEqual([
      "server",
      "redis",
      "version",
      "4.0.0",
      "proto",
      2,
      "mode",
      "cluster",
      "role",
      "slave",
      "modules",
      null,
    ]);
  });

  it("PING with a message echoes it; INFO with two sections is a syntax error", async () => {
    expect(await call(c1, "PING", "hi")).toBe("hi");
    expect(await errorOf(call(c1, "PING", "a", "b"))).toBe("ERR wrong number of arguments");
    expect(await errorOf(call(c1, "INFO", "server", "cluster"))).toBe("ERR syntax error");
    expect(await call(c1, "INFO", "nothing")).toBe("");
  });
});
