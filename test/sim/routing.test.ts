// Which node serves which key: MOVED, CLUSTERDOWN, CROSSSLOT, replica reads, ASKING.

import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keySlot } from "../support/kvrocks-sim/keyslot.js";
import { type SimNode, startSimNodes, stopAll } from "../support/kvrocks-sim/server.js";
import { A, B, C, call, client, errorOf, nodesText, pushTopology } from "./helpers.js";

let n1: SimNode;
let n2: SimNode;
let n3: SimNode;
let c1: Redis;
let c2: Redis;
let c3: Redis;

beforeAll(async () => {
  [n1, n2, n3] = (await startSimNodes(3)) as [SimNode, SimNode, SimNode];
  [c1, c2, c3] = await Promise.all([client(n1), client(n2), client(n3)]);
  const text = nodesText([
    { id: A, node: n1, slots: "0-8191" },
    { id: B, node: n2, slots: "8192-16382" },
    { id: C, node: n3, masterOf: A },
  ]);
  expect(await pushTopology([c1, c2, c3], text, 1)).toEqual(["OK", "OK", "OK"]);
});

afterAll(async () => {
  for (const c of [c1, c2, c3]) c.disconnect();
  await stopAll();
});

describe("key routing", () => {
  it("serves keys of its own slots and sends others to their owner", async () => {
    expect(keySlot("bar")).toBe(5061);
    expect(await call(c1, "SET", "bar", "1")).toBe("OK");
    expect(await call(c1, "GET", "bar")).toBe("1");
    expect(await errorOf(call(c2, "GET", "bar"))).toBe(`MOVED 5061 127.0.0.1:${n1.port}`);
    expect(await errorOf(call(c2, "SET", "bar", "2"))).toBe(`MOVED 5061 127.0.0.1:${n1.port}`);
  });

  it("answers CLUSTERDOWN for a slot nobody owns", async () => {
    const k = findKeyInSlot(16383); // left out of the topology
    expect(await errorOf(call(c1, "GET", k))).toBe("CLUSTERDOWN Hash slot not served");
    expect(await errorOf(call(c2, "SET", k, "x"))).toBe("CLUSTERDOWN Hash slot not served");
  });

  it("refuses keys of different slots in one command with CROSSSLOT", async () => {
    expect(await errorOf(call(c1, "DEL", "bar", "a"))).toBe(
      "CROSSSLOT Attempted to access keys that don't hash to the same slot",
    );
    expect(await call(c1, "EXISTS", "{bar}x", "{bar}y", "bar")).toBe(1);
  });

  it("a replica sends reads and writes to its master unless READONLY allows the read", async () => {
    expect(await errorOf(call(c3, "GET", "bar"))).toBe(`MOVED 5061 127.0.0.1:${n1.port}`);
    expect(await call(c3, "READONLY")).toBe("OK");
    expect(await call(c3, "GET", "bar")).toBe("1");
    expect(await errorOf(call(c3, "SET", "bar", "2"))).toBe(`MOVED 5061 127.0.0.1:${n1.port}`);
    // READONLY only covers the master's slots.
    expect(await errorOf(call(c3, "GET", "foo"))).toBe(`MOVED 12182 127.0.0.1:${n2.port}`);
    expect(await call(c3, "READWRITE")).toBe("OK");
    expect(await errorOf(call(c3, "GET", "bar"))).toBe(`MOVED 5061 127.0.0.1:${n1.port}`);
  });

  it("KEYS lists every key held, whatever the slot, and only supports prefixes", async () => {
    expect(await call(c1, "KEYS", "*")).toEqual(["bar"]);
    expect(await call(c3, "KEYS", "b*")).toEqual(["bar"]);
    expect(await errorOf(call(c1, "KEYS", "*a"))).toBe("ERR only keys prefix match was supported");
  });

  it("DBSIZE is the count of the last DBSIZE SCAN", async () => {
    expect(await call(c1, "DBSIZE")).toBe(0);
    expect(await call(c1, "DBSIZE", "SCAN")).toBe("OK");
    expect(await call(c1, "DBSIZE")).toBe(1);
    expect(await call(c1, "SET", "{bar}2", "x")).toBe("OK");
    expect(await call(c1, "DBSIZE")).toBe(1);
    expect(await call(c1, "INFO", "keyspace")).toMatch(
      /^# Keyspace\r\n# Last DBSIZE SCAN time: \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\r\ndb0:keys=1,/,
    );
    expect(await errorOf(call(c1, "DBSIZE", "x"))).toBe("ERR DBSIZE subcommand only supports scan");
  });

  it("slots a new SETNODES leaves out keep their previous owner, as in Kvrocks", async () => {
    const partial = nodesText([
      { id: A, node: n1, slots: "0-100" },
      { id: B, node: n2, slots: "8192-16382" },
      { id: C, node: n3, masterOf: A },
    ]);
    expect(await call(c2, "CLUSTERX", "SETNODES", partial, 2)).toBe("OK");
    const info = (await call(c2, "CLUSTER", "INFO")) as string;
    expect(info).toContain("cluster_slots_assigned:16383\r\n");
    expect(await errorOf(call(c2, "GET", "bar"))).toBe(`MOVED 5061 127.0.0.1:${n1.port}`);
    expect(await call(c2, "CLUSTERX", "SETNODES", partial.replace("0-100", "0-8191"), 3)).toBe(
      "OK",
    );
  });
});

describe("SET options", () => {
  it("supports NX, XX, GET and expiry like Kvrocks", async () => {
    expect(await call(c1, "SET", "bar", "a", "NX")).toBe(null);
    expect(await call(c1, "SET", "{bar}n", "a", "XX")).toBe(null);
    expect(await call(c1, "SET", "bar", "b", "GET")).toBe("1");
    expect(await call(c1, "SET", "{bar}t", "x", "PX", 30)).toBe("OK");
    expect(await call(c1, "GET", "{bar}t")).toBe("x");
    await new Promise((r) => setTimeout(r, 60));
    expect(await call(c1, "GET", "{bar}t")).toBe(null);
    expect(await errorOf(call(c1, "SET", "bar", "a", "NX", "XX"))).toBe("ERR syntax error");
    expect(await errorOf(call(c1, "SET", "bar", "a", "EX", 0))).toBe("ERR out of numeric range");
    expect(await errorOf(call(c1, "SET", "bar", "a", "EX"))).toBe("ERR no more item to parse");
  });
});

describe("a node without cluster mode", () => {
  it("serves every key and refuses writes while it is a replica", async () => {
    const [m, r] = await startSimNodes(2, { clusterEnabled: false });
    const cm = await client(m!);
    const cr = await client(r!);
    expect(await call(cm, "SET", "foo", "1")).toBe("OK");
    expect(await call(cm, "SET", "bar", "2")).toBe("OK");
    expect(await call(cr, "SLAVEOF", "127.0.0.1", m!.port)).toBe("OK");
    expect(await call(cr, "GET", "foo")).toBe("1");
    expect(await errorOf(call(cr, "SET", "foo", "2"))).toBe(
      "READONLY You can't write against a read only slave.",
    );
    expect(await call(cr, "SLAVEOF", "NO", "ONE")).toBe("OK");
    expect(await call(cr, "SET", "foo", "2")).toBe("OK");
    expect(await errorOf(call(c1, "SLAVEOF", "127.0.0.1", m!.port))).toBe(
      "ERR can't change to slave in cluster mode",
    );
    cm.disconnect();
    cr.disconnect();
  });
});

describe("ASKING on an importing node", () => {
  it("serves the importing range only to an ASKING client, for one command", async () => {
    const [src, dst] = await startSimNodes(2, { migrationDelayMs: 60_000 });
    const cs = await client(src!);
    const cd = await client(dst!);
    const text = nodesText([
      { id: A, node: src!, slots: "0-16383" },
      { id: B, node: dst! },
    ]);
    await pushTopology([cs, cd], text, 1);
    expect(await call(cs, "SET", "bar", "v")).toBe("OK");
    expect(await call(cs, "CLUSTERX", "MIGRATE", "5061", B)).toBe("OK");
    expect(await errorOf(call(cd, "GET", "bar"))).toBe(`MOVED 5061 127.0.0.1:${src!.port}`);
    expect(await call(cd, "ASKING")).toBe("OK");
    expect(await call(cd, "GET", "bar")).toBe(null);
    expect(await errorOf(call(cd, "GET", "bar"))).toBe(`MOVED 5061 127.0.0.1:${src!.port}`);
    const dstNodes = (await call(cd, "CLUSTER", "NODES")) as string;
    expect(dstNodes.split("\n").find((l) => l.startsWith(B))).toMatch(
      new RegExp(`myself,master - \\d+ \\d+ 1 connected \\[5061-<-${A}\\]$`),
    );
    cs.disconnect();
    cd.disconnect();
    await src!.close();
    await dst!.close();
  });
});

function findKeyInSlot(slot: number): string {
  for (let i = 0; ; i++) if (keySlot(`k${i}`) === slot) return `k${i}`;
}
