// The scale planner, pure: shares of 16384/N (±1), only surplus moves, each slot once.
import { describe, expect, it } from "vitest";
import type { Cluster } from "../../lib/model/index.js";
import { planBalance, slotFlows, takeFromEnd } from "../../lib/ops/index.js";
import {
  countSlots,
  formatSlotRanges,
  mergeRanges,
  parseSlotRange,
  SLOT_COUNT,
  subtractRanges,
} from "../../lib/slots/index.js";

const id = (i: number) => i.toString(16).padStart(40, "0");

function cluster(ranges: string[][]): Cluster {
  return {
    name: "c",
    version: 1,
    shards: ranges.map((r, i) => ({
      nodes: [
        { id: id(i), addr: `127.0.0.1:${7000 + i}`, role: "master", password: "", created_at: 0 },
      ],
      slot_ranges: r.map((x) => parseSlotRange(x)),
      target_shard_index: -1,
      migrating_slot: null,
    })),
  };
}

/** Applies the moves and checks: each slot moved once, from its owner, shares reached. */
function apply(c: Cluster, removed: Set<number> = new Set()) {
  const moves = planBalance(c, removed);
  const owned = c.shards.map((s) => mergeRanges(s.slot_ranges));
  const moved = new Set<number>();
  for (const m of moves) {
    for (const r of m.ranges) {
      for (let s = r.start; s <= r.stop; s++) {
        if (moved.has(s)) throw new Error(`slot ${s} moved twice`);
        moved.add(s);
      }
      if (subtractRanges([r], owned[m.source]!).length > 0) throw new Error("not the source's");
      owned[m.source] = subtractRanges(owned[m.source]!, [r]);
      owned[m.target] = mergeRanges([...owned[m.target]!, r]);
    }
    expect(m.slots).toBe(countSlots(m.ranges));
  }
  return { moves, counts: owned.map(countSlots), owned, moved: moved.size };
}

describe("planBalance", () => {
  it("scale out 2 -> 4 moves exactly each old shard's surplus, one range per pair", () => {
    const c = cluster([["0-8191"], ["8192-16383"], [], []]);
    const { moves, counts, moved } = apply(c);
    expect(counts).toEqual([4096, 4096, 4096, 4096]);
    expect(moved).toBe(8192);
    expect(moves.map((m) => [m.source, m.target, formatSlotRanges(m.ranges)])).toEqual([
      [0, 2, ["4096-8191"]],
      [1, 3, ["12288-16383"]],
    ]);
  });

  it("scale out 3 -> 5 ends with every master at 16384/5 ± 1 and moves only the surplus", () => {
    const c = cluster([["0-5460"], ["5461-10921"], ["10922-16383"], [], []]);
    const before = c.shards.map((s) => countSlots(s.slot_ranges));
    const { counts, moved } = apply(c);
    for (const n of counts) expect(Math.abs(n - SLOT_COUNT / 5)).toBeLessThan(1);
    const surplus = before.reduce((sum, n, i) => sum + Math.max(0, n - counts[i]!), 0);
    expect(moved).toBe(surplus);
    expect(counts.reduce((a, b) => a + b)).toBe(SLOT_COUNT);
  });

  it("scale in 4 -> 3 drains only the removed shard, balanced", () => {
    const c = cluster([["0-4095"], ["4096-8191"], ["8192-12287"], ["12288-16383"]]);
    const { moves, counts, moved } = apply(c, new Set([3]));
    expect(counts).toEqual([5462, 5461, 5461, 0]);
    expect(moved).toBe(4096);
    expect(moves.every((m) => m.source === 3 && m.ranges.length === 1)).toBe(true);
  });

  it("removing a shard in the middle drains it to the others", () => {
    const c = cluster([["0-4095"], ["4096-8191"], ["8192-12287"], ["12288-16383"]]);
    const { counts } = apply(c, new Set([1]));
    expect(counts[1]).toBe(0);
    expect(counts.filter((_, i) => i !== 1).sort()).toEqual([5461, 5461, 5462]);
  });

  it("a balanced cluster plans nothing", () => {
    expect(planBalance(cluster([["0-8191"], ["8192-16383"]]))).toEqual([]);
    expect(planBalance(cluster([["0-8192"], ["8193-16383"]]))).toEqual([]);
  });

  it("fragmented shards give from their end, in few ranges", () => {
    const c = cluster([["0-99", "200-9000"], ["100-199", "9001-16383"], []]);
    const { counts, moves } = apply(c);
    for (const n of counts) expect(Math.abs(n - SLOT_COUNT / 3)).toBeLessThan(1);
    for (const m of moves) expect(m.ranges.length).toBeLessThanOrEqual(2);
  });

  it("refuses to remove every shard", () => {
    expect(() => slotFlows(cluster([["0-16383"]]), new Set([0]))).toThrow(/every shard/);
  });
});

describe("takeFromEnd", () => {
  it("takes whole ranges from the end, then part of the next", () => {
    const ranges = ["0-99", "200-299"].map((r) => parseSlotRange(r));
    expect(formatSlotRanges(takeFromEnd(ranges, 150))).toEqual(["50-99", "200-299"]);
    expect(formatSlotRanges(takeFromEnd(ranges, 10))).toEqual(["290-299"]);
  });
});

describe("planBalance over many shapes", () => {
  it("always lands every kept shard within ±1 of its share, moving each slot at most once", () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      const n = 1 + rand(8);
      const cuts = Array.from({ length: n - 1 }, () => rand(SLOT_COUNT)).sort((a, b) => a - b);
      const bounds = [0, ...cuts, SLOT_COUNT];
      const shards = bounds.slice(0, -1).map((start, i) => {
        const stop = bounds[i + 1]! - 1;
        return stop >= start ? [`${start}-${stop}`] : [];
      });
      const added = rand(3);
      for (let i = 0; i < added; i++) shards.push([]);
      const removed = new Set<number>();
      if (shards.length > 1 && rand(2) === 0) removed.add(rand(shards.length));
      const { counts } = apply(cluster(shards), removed);
      const share = SLOT_COUNT / (shards.length - removed.size);
      counts.forEach((c, i) => {
        if (removed.has(i)) expect(c).toBe(0);
        else expect(Math.abs(c - share)).toBeLessThanOrEqual(1);
      });
    }
  });
});
