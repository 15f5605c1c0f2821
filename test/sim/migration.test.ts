// Slot migration between simulated nodes: copy, success/fail states, what the source and
// the target serve afterwards, and the knobs that make it fail or hang.

import type { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { keySlot } from "../support/kvrocks-sim/keyslot.js";
import {
  type SimNode,
  type SimNodeOptions,
  startSimNodes,
  stopAll,
} from "../support/kvrocks-sim/server.js";
import {
  A,
  B,
  C,
  call,
  client,
  D,
  errorOf,
  nodesText,
  parseInfo,
  pushTopology,
  waitFor,
} from "./helpers.js";

interface Cluster {
  src: SimNode;
  dst: SimNode;
  srcReplica: SimNode;
  dstReplica: SimNode;
  cs: Redis;
  cd: Redis;
  all: Redis[];
}

const opened: Redis[] = [];

async function cluster(opts: SimNodeOptions = {}): Promise<Cluster> {
  const [src, dst, srcReplica, dstReplica] = (await startSimNodes(4, opts)) as SimNode[] as [
    SimNode,
    SimNode,
    SimNode,
    SimNode,
  ];
  const all = await Promise.all([src, dst, srcReplica, dstReplica].map((n) => client(n)));
  opened.push(...all);
  const text = nodesText([
    { id: A, node: src, slots: "0-8191" },
    { id: B, node: dst, slots: "8192-16383" },
    { id: C, node: srcReplica, masterOf: A },
    { id: D, node: dstReplica, masterOf: B },
  ]);
  expect(await pushTopology(all, text, 1)).toEqual(["OK", "OK", "OK", "OK"]);
  return { src, dst, srcReplica, dstReplica, cs: all[0]!, cd: all[1]!, all };
}

const movedTopology = (c: Cluster) =>
  nodesText([
    { id: A, node: c.src, slots: "1001-8191" },
    { id: B, node: c.dst, slots: "0-1000 8192-16383" },
    { id: C, node: c.srcReplica, masterOf: A },
    { id: D, node: c.dstReplica, masterOf: B },
  ]);

async function fill(c: Cluster, n: number): Promise<string[]> {
  const keys: string[] = [];
  for (let i = 0; keys.length < n; i++) {
    const k = `key:${i}`;
    if (keySlot(k) > 8191) continue;
    await call(c.cs, "SET", k, `v${i}`);
    keys.push(k);
  }
  return keys;
}

const clusterInfo = async (r: Redis) => parseInfo((await call(r, "CLUSTER", "INFO")) as string);
const waitState = (r: Redis, field: string, value: string) =>
  waitFor(
    () => clusterInfo(r),
    (i) => i.get(field) === value,
  );

afterEach(async () => {
  for (const c of opened.splice(0)) c.disconnect();
  await stopAll();
});

describe("data migration", () => {
  it("moves every key of the range to the target; the source drops them on the new topology", async () => {
    const c = await cluster();
    const keys = await fill(c, 200);
    const inRange = keys.filter((k) => keySlot(k) <= 1000);
    const outside = keys.filter((k) => keySlot(k) > 1000);
    expect(inRange.length).toBeGreaterThan(5);

    expect(await call(c.cs, "CLUSTERX", "MIGRATE", "0-1000", B)).toBe("OK");
    await waitState(c.cs, "migrating_state", "success");
    expect((await clusterInfo(c.cd)).get("import_state")).toBe("success");

    for (const k of inRange) {
      expect(c.dst.read(k)).toBe(c.src.read(k));
      expect(c.dstReplica.read(k)).toBe(c.src.read(k));
      expect(await call(c.cd, "GET", k)).toBe(c.src.read(k));
      expect(await errorOf(call(c.cs, "GET", k))).toBe(
        `MOVED ${keySlot(k)} 127.0.0.1:${c.dst.port}`,
      );
    }
    for (const k of outside) expect(c.dst.read(k)).toBeUndefined();
    expect(c.dst.state.sequence).toBe(inRange.length);

    expect(await pushTopology(c.all, movedTopology(c), 2)).toEqual(["OK", "OK", "OK", "OK"]);
    for (const k of inRange) {
      expect(c.src.read(k)).toBeUndefined();
      expect(c.srcReplica.read(k)).toBeUndefined();
      expect(c.dst.read(k)).toBeDefined();
    }
    for (const k of outside) expect(c.src.read(k)).toBeDefined();
    expect(c.src.state.sequence).toBe(200 + inRange.length);
    expect(c.srcReplica.state.sequence).toBe(c.src.state.sequence);
    const after = await clusterInfo(c.cs);
    expect(after.get("migrating_slot(s)")).toBe("0-1000");
    expect(after.get("migrating_state")).toBe("success");
  });

  it("keeps the keys on the source when the topology still gives it the slots", async () => {
    const c = await cluster();
    await fill(c, 50);
    await call(c.cs, "CLUSTERX", "MIGRATE", "0-1000", B);
    await waitState(c.cs, "migrating_state", "success");
    const before = c.src.state.data.size;
    const same = nodesText([
      { id: A, node: c.src, slots: "0-8191" },
      { id: B, node: c.dst, slots: "8192-16383" },
      { id: C, node: c.srcReplica, masterOf: A },
      { id: D, node: c.dstReplica, masterOf: B },
    ]);
    await call(c.cs, "CLUSTERX", "SETNODES", same, 2);
    expect(c.src.state.data.size).toBe(before);
    // The migrated mark is gone: the source serves the range again.
    const inside = [...c.src.state.data.keys()].find((k) => keySlot(k) <= 1000)!;
    expect(await call(c.cs, "GET", inside)).toBe(c.src.read(inside));
  });

  it("a node that loses slots without migrating them keeps their keys", async () => {
    const c = await cluster();
    const keys = await fill(c, 30);
    await pushTopology(c.all, movedTopology(c), 2);
    for (const k of keys) expect(c.src.read(k)).toBeDefined();
    const k = keys.find((x) => keySlot(x) <= 1000)!;
    expect(await errorOf(call(c.cs, "GET", k))).toBe(`MOVED ${keySlot(k)} 127.0.0.1:${c.dst.port}`);
  });

  it("refuses writes with TRYAGAIN when a migrated range comes back without an import", async () => {
    const c = await cluster();
    const keys = await fill(c, 30);
    const inside = keys.find((k) => keySlot(k) <= 1000)!;
    const outside = keys.find((k) => keySlot(k) > 1000)!;
    await call(c.cs, "CLUSTERX", "MIGRATE", "0-1000", B);
    await waitState(c.cs, "migrating_state", "success");
    await pushTopology(c.all, movedTopology(c), 2);
    const back = nodesText([
      { id: A, node: c.src, slots: "0-8191" },
      { id: B, node: c.dst, slots: "8192-16383" },
      { id: C, node: c.srcReplica, masterOf: A },
      { id: D, node: c.dstReplica, masterOf: B },
    ]);
    await pushTopology(c.all, back, 3);
    expect(await errorOf(call(c.cs, "SET", inside, "x"))).toBe(
      "TRYAGAIN Can't write to slot being migrated which is in write forbidden phase",
    );
    // Reads pass; the keys were dropped when the range left.
    expect(await call(c.cs, "GET", inside)).toBe(null);
    expect(await call(c.cs, "SET", outside, "x")).toBe("OK");
  });

  it("fails when the target is stopped, after migrationFailDelayMs", async () => {
    const c = await cluster({ migrationFailDelayMs: 100 });
    await fill(c, 20);
    await c.dst.stop();
    const t0 = Date.now();
    expect(await call(c.cs, "CLUSTERX", "MIGRATE", "0-1000", B)).toBe("OK");
    expect((await clusterInfo(c.cs)).get("migrating_state")).toBe("start");
    await waitState(c.cs, "migrating_state", "fail");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect((await clusterInfo(c.cs)).get("migrating_slot(s)")).toBe("0-1000");
    const inside = [...c.src.state.data.keys()].find((k) => keySlot(k) <= 1000)!;
    expect(await call(c.cs, "GET", inside)).toBe(c.src.read(inside));
    expect(await call(c.cs, "CLUSTERX", "MIGRATE", "0-1000", B)).toBe("OK");
  });

  it("fails when the target goes away during the copy", async () => {
    const c = await cluster({ migrationDelayMs: 150 });
    await fill(c, 20);
    await call(c.cs, "CLUSTERX", "MIGRATE", "0-1000", B);
    await c.dst.stop();
    await waitState(c.cs, "migrating_state", "fail");
  });

  it("migration: 'fail' ends in fail, and the target drops what it imported", async () => {
    const c = await cluster();
    await fill(c, 20);
    c.src.setFault({ migration: "fail" });
    await call(c.cs, "CLUSTERX", "MIGRATE", "0-1000", B);
    await waitState(c.cs, "migrating_state", "fail");
    const t = await clusterInfo(c.cd);
    expect(t.get("importing_slot(s)")).toBe("0-1000");
    expect(t.get("import_state")).toBe("error");
    expect(c.dst.state.data.size).toBe(0);
  });

  it("migration: 'stuck' stays in start; a second MIGRATE is refused; releasing it completes", async () => {
    const c = await cluster({ migrationDelayMs: 20 });
    await fill(c, 20);
    c.src.setFault({ migration: "stuck" });
    await call(c.cs, "CLUSTERX", "MIGRATE", "0-1000", B);
    await new Promise((r) => setTimeout(r, 100));
    expect((await clusterInfo(c.cs)).get("migrating_state")).toBe("start");
    expect(await errorOf(call(c.cs, "CLUSTERX", "MIGRATE", "2000-3000", B))).toBe(
      "ERR There is already a migrating job",
    );
    expect(await errorOf(call(c.cs, "CLUSTER", "RESET"))).toBe(
      "ERR Can't reset cluster while migrating slot",
    );
    c.src.setFault({ migration: "ok" });
    await waitState(c.cs, "migrating_state", "success");
  });

  it("the source's slot span refuses any overlapping migration until the next SETNODES", async () => {
    const c = await cluster();
    await call(c.cs, "CLUSTERX", "MIGRATE", "0-10", B);
    await waitState(c.cs, "migrating_state", "success");
    await call(c.cs, "CLUSTERX", "MIGRATE", "100-110", B);
    await waitState(c.cs, "migrating_slot(s)", "100-110");
    await waitState(c.cs, "migrating_state", "success");
    // Kvrocks checks the span from the lowest to the highest migrated slot.
    expect(await errorOf(call(c.cs, "CLUSTERX", "MIGRATE", "50", B))).toBe(
      "ERR Can't migrate slot which has been migrated",
    );
    expect(await call(c.cs, "CLUSTERX", "MIGRATE", "200", B)).toBe("OK");
  });

  it("sync mode answers when the migration ends: OK, the error, or nil on timeout", async () => {
    const c = await cluster({ migrationDelayMs: 30 });
    expect(await call(c.cs, "CLUSTERX", "MIGRATE", "0-10", B, "sync")).toBe("OK");
    c.src.setFault({ migration: "fail" });
    expect(await errorOf(call(c.cs, "CLUSTERX", "MIGRATE", "20-30", B, "sync", 5))).toBe(
      "ERR failed to send commands to restore a key",
    );
    c.src.setFault({ migration: "stuck" });
    expect(await call(c.cs, "CLUSTERX", "MIGRATE", "40-50", B, "sync", 1)).toBe(null);
    expect((await clusterInfo(c.cs)).get("migrating_state")).toBe("start");
  });

  it("validates MIGRATE arguments like Kvrocks", async () => {
    const c = await cluster();
    const cases: [unknown[], string][] = [
      [["0"], "ERR wrong number of arguments"],
      [["0", B, "async", "5"], "ERR Async migration does not support timeout"],
      [["0", B, "sync", "x"], "ERR timeout is not an integer or out of range"],
      [["0", B, "sync", "-1"], "ERR timeout is negative"],
      [["0", B, "maybe"], "ERR Invalid sync flag"],
      [["x", B], "ERR Invalid slot id: not started as an integer"],
      [["16384", B], "ERR Invalid slot id: out of numeric range"],
      [
        ["-5", B],
        "ERR Invalid slot range: `-5`. The character '-' can't appear in the first or last position.",
      ],
      [
        ["1-2-3", B],
        "ERR Invalid slot range: `1-2-3`. The slot range should be of the form `int1-int2`.",
      ],
      [["0-9000", B], "ERR Can't migrate slot which doesn't belong to me"],
    ];
    for (const [args, want] of cases) {
      expect(
        await errorOf(call(c.cs, "CLUSTERX", "MIGRATE", ...(args as string[]))),
        String(args),
      ).toBe(want);
    }
  });

  it("the target refuses an import when the source's password does not open it", async () => {
    const [src] = (await startSimNodes(1, { password: "one" })) as [SimNode];
    const [dst] = (await startSimNodes(1, { password: "two" })) as [SimNode];
    const cs = await client(src, "one");
    const cd = await client(dst, "two");
    opened.push(cs, cd);
    const text = nodesText([
      { id: A, node: src, slots: "0-16383" },
      { id: B, node: dst },
    ]);
    await pushTopology([cs, cd], text, 1);
    await call(cs, "CLUSTERX", "MIGRATE", "0-10", B);
    await waitState(cs, "migrating_state", "fail");
    expect((await clusterInfo(cd)).get("import_state")).toBeUndefined();
  });

  it("a source that stops mid-migration leaves the target's import in error", async () => {
    const c = await cluster({ migrationDelayMs: 60_000 });
    await fill(c, 10);
    await call(c.cs, "CLUSTERX", "MIGRATE", "0-1000", B);
    expect((await clusterInfo(c.cd)).get("import_state")).toBe("start");
    await c.src.stop();
    expect((await clusterInfo(c.cd)).get("import_state")).toBe("error");
    await c.src.start();
    const cs = await client(c.src);
    opened.push(cs);
    // The job lived in memory only; the restarted source knows nothing of it.
    expect((await clusterInfo(cs)).get("migrating_state")).toBeUndefined();
  });
});
