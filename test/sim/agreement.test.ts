// The behaviours the simulator's README lists, checked on whatever nodes the run has: the
// simulator in `npm test`, real Kvrocks in `npm run test:kvrocks`. Where they disagree, the
// real run fails and the simulator is what gets fixed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keySlot } from "../support/kvrocks-sim/keyslot.js";
import { closeTestNodes, startTestNodes, type TestNode } from "../support/nodes.js";

let a: TestNode;
let b: TestNode;
const idA = "a".repeat(40);
const idB = "b".repeat(40);
const topology = (ranges: [string, string]) =>
  `${idA} 127.0.0.1 ${a.port} master - ${ranges[0]}\n${idB} 127.0.0.1 ${b.port} master - ${ranges[1]}`;

beforeAll(async () => {
  [a, b] = (await startTestNodes(2)) as [TestNode, TestNode];
});
afterAll(closeTestNodes);

const error = (p: Promise<unknown>) =>
  p.then(
    (v) => `no error: ${String(v)}`,
    (e: Error) => e.message,
  );

describe("what the simulator's README says Kvrocks does", () => {
  it("an uninitialized node answers CLUSTERX VERSION -1 as a bulk string", async () => {
    expect(await a.call("CLUSTERX", "VERSION")).toBe("-1");
  });

  it("a range A-B needs A < B", async () => {
    await a.call("CLUSTERX", "SETNODEID", idA);
    await b.call("CLUSTERX", "SETNODEID", idB);
    expect(await error(a.call("CLUSTERX", "SETNODES", topology(["5-5", "6-16383"]), 1))).toMatch(
      /Slot is out of range/,
    );
  });

  it("SETNODES at the current version without force answers OK and changes nothing", async () => {
    for (const n of [a, b])
      await n.call("CLUSTERX", "SETNODES", topology(["0-8191", "8192-16383"]), 1);
    expect(await a.call("CLUSTERX", "SETNODES", "not even a topology", 1)).toBe("OK");
    expect(await a.call("CLUSTERX", "VERSION")).toBe("1");
  });

  it("a key of another node's slot answers MOVED to it; KEYS takes only a prefix", async () => {
    // "foo" is in slot 12182, "bar" in 5061.
    expect(await error(a.call("SET", "foo", "1"))).toBe(`MOVED 12182 127.0.0.1:${b.port}`);
    expect(await a.call("SET", "bar", "1")).toBe("OK");
    expect(await a.call("KEYS", "ba*")).toEqual(["bar"]);
    expect(await error(a.call("KEYS", "*ar"))).toMatch(/only keys prefix match was supported/);
  });

  it("slots a new SETNODES leaves out keep their old owner: MOVED, not CLUSTERDOWN", async () => {
    for (const n of [a, b]) {
      await n.call("CLUSTERX", "SETNODES", topology(["0-8191", "8192-16000"]), 2);
    }
    let key = "";
    for (let i = 0; key === ""; i++) if (keySlot(`k${i}`) > 16000) key = `k${i}`;
    expect(await error(a.call("SET", key, "1"))).toBe(`MOVED ${keySlot(key)} 127.0.0.1:${b.port}`);
    const info = String(await a.call("CLUSTER", "INFO"));
    expect(info).toMatch(/cluster_slots_assigned:16384/);
  });

  it("a migrated range answers MOVED on the source and cannot be migrated again", async () => {
    await a.call("SET", "{bar}y", "2");
    expect(await a.call("CLUSTERX", "MIGRATE", "5000-5100", idB)).toBe("OK");
    const deadline = Date.now() + 20_000;
    while (!/migrating_state: success/.test(String(await a.call("CLUSTER", "INFO")))) {
      if (Date.now() > deadline) throw new Error(String(await a.call("CLUSTER", "INFO")));
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await error(a.call("GET", "bar"))).toBe(`MOVED 5061 127.0.0.1:${b.port}`);
    expect(await error(a.call("CLUSTERX", "MIGRATE", "5050", idB))).toMatch(
      /Can't migrate slot which has been migrated/,
    );
    // The target has the keys; it serves them once its topology says so.
    expect(await b.call("KEYS", "{bar}*")).toEqual(["{bar}y"]);
  });

  it("SCAN pages come in slot order with a numeric cursor, 0 after the last", async () => {
    const mine = Array.from({ length: 60 }, (_, i) => `s${i}`).filter(
      (k) => keySlot(k) <= 8191 && (keySlot(k) < 5000 || keySlot(k) > 5100),
    );
    for (const k of mine) await a.call("SET", k, "1");
    const seen: string[] = [];
    let cursor = "0";
    do {
      const [next, keys] = (await a.call("SCAN", cursor, "COUNT", 7)) as [string, string[]];
      expect(next).toMatch(/^\d+$/);
      seen.push(...keys);
      cursor = next;
    } while (cursor !== "0");
    const slots = seen.map((k) => keySlot(k));
    expect(slots).toEqual([...slots].sort((x, y) => x - y));
    for (const k of mine) expect(seen).toContain(k);
  });

  it("a range migrated away stays write-forbidden when given back, until CLUSTER IMPORT of it", async () => {
    // 5000-5100 went to b above (migrating_state: success on a); b gets it, then a again.
    const give = async (version: number, toA: boolean) => {
      const ranges: [string, string] = toA
        ? ["0-8191", "8192-16383"]
        : ["0-4999 5101-8191", "5000-5100 8192-16383"];
      for (const n of [a, b]) await n.call("CLUSTERX", "SETNODES", topology(ranges), version);
    };
    await give(3, false);
    await give(4, true);
    expect(await error(a.call("SET", "{bar}z", "1"))).toMatch(/^TRYAGAIN .*write forbidden/);
    // Refused for a range the node owns; accepted (and the range released) once it does not.
    expect(await error(a.call("CLUSTER", "IMPORT", "5000-5100", "0"))).toMatch(
      /Can't import slot which belongs to me/,
    );
    await give(5, false);
    expect(await a.call("CLUSTER", "IMPORT", "5000-5100", "0")).toBe("OK");
    expect(await a.call("CLUSTER", "IMPORT", "5000-5100", "2")).toBe("OK");
    const info = String(await a.call("CLUSTER", "INFO"));
    expect(info).not.toMatch(/migrating_slot/);
    expect(info).toMatch(/importing_slot\(s\): 5000-5100\r\nimport_state: error/);
    await give(6, true);
    expect(await a.call("SET", "{bar}z", "1")).toBe("OK");
  });
});
