// When the confirmation's clock starts and when its concluding probe goes out (issue 16), on a
// clock the test turns: a killed master's unreachable time counts from the drop of the probe's
// kept connection when the round's probe followed it at once, and never from a drop seen long
// before; the probe that can conclude is sent as down-after elapses, not a period later; a
// master that dropped its connection and refuses is judged down by its refusals (issue 27); a
// silent one's re-probes overlap (issue 22).
import { afterEach, describe, expect, it } from "vitest";
import { NodePool } from "../../lib/kvrocks/index.js";
import type { ClusterNode } from "../../lib/model/index.js";
import { type ConfirmSettings, confirmDown } from "../../lib/probe/confirm.js";
import { observeNode } from "../../lib/probe/observe.js";
import { eventually } from "../support/harness.js";
import { type SimNode, startSimNode } from "../support/kvrocks-sim/server.js";

const SETTINGS: ConfirmSettings = {
  downAfterMs: 1000,
  confirmEveryMs: 150,
  failures: 3,
  timeoutMs: 500,
};

let node: SimNode | undefined;
let pool: NodePool | undefined;
afterEach(async () => {
  pool?.close();
  await node?.close();
  node = undefined;
  pool = undefined;
});

/** A dead node, its kept connection dropped at 10 000 on the test's clock. */
async function deadMaster() {
  const clock = { now: 10_000 };
  node = await startSimNode();
  pool = new NodePool({ now: () => clock.now });
  const master: ClusterNode = {
    id: "m".repeat(40),
    addr: node.addr,
    role: "master",
    password: "",
    created_at: 0,
  };
  expect(await pool.use(master.addr, { timeoutMs: 500 }, (c) => c.version())).toBe(-1);
  await node.stop();
  await eventually(() => pool!.lostSince(master.addr) !== undefined, 10_000, 20);
  expect(pool.lostSince(master.addr)).toBe(10_000);
  const deps = {
    now: () => clock.now,
    sleep: async (ms: number) => {
      clock.now += ms;
    },
    pool,
  };
  return { clock, master, deps };
}

describe("the down-after clock", () => {
  it("starts at the drop of the kept connection when the round's probe followed it at once", async () => {
    const { clock, master, deps } = await deadMaster();
    clock.now = 10_100;
    const first = await observeNode(master, SETTINGS.timeoutMs, pool);
    expect(first.alive).toBe(false);
    const verdict = await confirmDown(first, 10_100, SETTINGS, deps);
    // Dropped, then refused three probes a period apart: the process is gone (issue 27), judged
    // down without waiting out down-after.
    expect(verdict).toMatchObject({ kind: "down", since: 10_000, probes: 3, refusedOnly: true });
    expect(clock.now).toBe(10_400);
    if (verdict.kind === "down") expect(verdict.unreachableMs).toBe(400);
  });

  it("starts at the round's probe when the drop was seen long before it", async () => {
    const { clock, master, deps } = await deadMaster();
    clock.now = 10_600;
    const first = await observeNode(master, SETTINGS.timeoutMs, pool);
    const verdict = await confirmDown(first, 10_600, SETTINGS, deps);
    expect(verdict).toMatchObject({ kind: "down", since: 10_600 });
    expect(clock.now).toBeGreaterThanOrEqual(11_600);
  });

  it("sends the concluding probe as down-after elapses, never before", async () => {
    const { clock, master, deps } = await deadMaster();
    pool!.close();
    // No kept connection any more: nothing to count from but the round's probe.
    clock.now = 20_000;
    const first = await observeNode(master, SETTINGS.timeoutMs);
    const verdict = await confirmDown(first, 20_000, SETTINGS, { ...deps, pool: undefined });
    expect(verdict).toMatchObject({ kind: "down", since: 20_000 });
    // Re-probes every 150 ms would conclude at 21 050; the last one waits only to 21 001.
    expect(clock.now).toBe(21_001);
    if (verdict.kind === "down") expect(verdict.unreachableMs).toBe(1001);
  });
});

describe("a silent master (issue 22)", () => {
  it("is judged down without waiting for each re-probe's deadline in turn: its re-probes overlap", async () => {
    node = await startSimNode();
    pool = new NodePool();
    const master: ClusterNode = {
      id: "s".repeat(40),
      addr: node.addr,
      role: "master",
      password: "",
      created_at: 0,
    };
    const settings: ConfirmSettings = {
      downAfterMs: 900,
      confirmEveryMs: 150,
      failures: 3,
      timeoutMs: 1500,
    };
    expect((await observeNode(master, settings.timeoutMs, pool)).alive).toBe(true);
    // SIGSTOP's stand-in: connections stay open, nothing is answered.
    node.setFault({ hang: true });
    try {
      const sent = Date.now();
      const first = await observeNode(master, settings.timeoutMs, pool);
      expect(first.failure).toBe("timeout");
      const verdict = await confirmDown(first, sent, settings, {
        now: Date.now,
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
        pool,
      });
      expect(verdict).toMatchObject({ kind: "down", probes: 3, refusedOnly: false });
      // One probe deadline after another, three failed probes take at least three deadlines
      // (4500 ms); overlapping, the first deadline and two re-probe periods (about 1800 ms).
      if (verdict.kind === "down")
        expect(verdict.unreachableMs).toBeLessThan(3 * settings.timeoutMs);
    } finally {
      node.setFault({ hang: false });
    }
  });
});
