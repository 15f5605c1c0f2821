// Properties of the pure slot rules over generated clusters (fast-check): whatever the shape,
// a plan keeps every slot owned exactly once, reaches every kept shard's share, moves each slot
// at most once and never through a shard, and a balanced cluster plans nothing.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Cluster, clusterViolations } from "../../lib/model/index.js";
import { planBalance, withRangesMoved } from "../../lib/ops/index.js";
import { countSlots, SLOT_COUNT, type SlotRange } from "../../lib/slots/index.js";

const id = (i: number) => i.toString(16).padStart(40, "0");

/** Cut points anywhere: shards far from their share, in many pieces. */
const anyCuts = fc.uniqueArray(fc.integer({ min: 1, max: SLOT_COUNT - 1 }), { maxLength: 24 });

/** Cut points a few slots off an even split: shards at the edges of the ±1 band. */
const nearEvenCuts = fc
  .record({
    n: fc.integer({ min: 2, max: 9 }),
    jitter: fc.array(fc.integer({ min: -4, max: 4 }), { minLength: 8, maxLength: 8 }),
  })
  .map(({ n, jitter }) => [
    ...new Set(
      Array.from({ length: n - 1 }, (_, i) => Math.round(((i + 1) * SLOT_COUNT) / n) + jitter[i]!),
    ),
  ]);

/** Cuts 0..16383 into runs and deals them out to `shards` shards (some maybe empty). */
const clusterShape = fc
  .record({
    shards: fc.integer({ min: 1, max: 9 }),
    cuts: fc.oneof(anyCuts, nearEvenCuts),
    seed: fc.array(fc.nat(), { minLength: 25, maxLength: 25 }),
    dealt: fc.boolean(),
  })
  .map(({ shards, cuts, seed, dealt }): Cluster => {
    const bounds = [0, ...[...cuts].sort((a, b) => a - b), SLOT_COUNT];
    const owned: SlotRange[][] = Array.from({ length: shards }, () => []);
    for (let i = 0; i + 1 < bounds.length; i++) {
      owned[(dealt ? seed[i]! : i) % shards]!.push({ start: bounds[i]!, stop: bounds[i + 1]! - 1 });
    }
    return {
      name: "c",
      version: 1,
      shards: owned.map((ranges, i) => ({
        nodes: [
          { id: id(i), addr: `127.0.0.1:${7000 + i}`, role: "master", password: "", created_at: 0 },
        ],
        slot_ranges: ranges,
        target_shard_index: -1,
        migrating_slot: null,
      })),
    };
  });

const shapeAndRemoval = clusterShape.chain((cluster) =>
  fc
    .subarray(
      cluster.shards.map((_, i) => i),
      { maxLength: cluster.shards.length - 1 },
    )
    .map((removed) => ({ cluster, removed: new Set(removed) })),
);

/** Applies a plan the way the engine commits it: each move through withRangesMoved. */
function applyPlan(cluster: Cluster, removed: ReadonlySet<number>) {
  const moves = planBalance(cluster, removed);
  let after = cluster;
  for (const m of moves) after = withRangesMoved(after, m.ranges, m.target);
  return { moves, after };
}

describe("slot planner properties", () => {
  it("every plan keeps each slot owned exactly once, whatever the shape and removals", () => {
    fc.assert(
      fc.property(shapeAndRemoval, ({ cluster, removed }) => {
        const { after } = applyPlan(cluster, removed);
        expect(clusterViolations(after)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it("every kept shard ends within one slot of its share and removed shards end empty", () => {
    fc.assert(
      fc.property(shapeAndRemoval, ({ cluster, removed }) => {
        const { after } = applyPlan(cluster, removed);
        const share = SLOT_COUNT / (cluster.shards.length - removed.size);
        after.shards.forEach((s, i) => {
          const n = countSlots(s.slot_ranges);
          if (removed.has(i)) expect(n).toBe(0);
          else expect(Math.abs(n - share)).toBeLessThanOrEqual(1);
        });
      }),
      { numRuns: 300 },
    );
  });

  it("moves each slot at most once, never through a shard, and only as many as it must", () => {
    fc.assert(
      fc.property(shapeAndRemoval, ({ cluster, removed }) => {
        const { moves } = applyPlan(cluster, removed);
        const times = new Uint8Array(SLOT_COUNT);
        for (const m of moves) for (const r of m.ranges) times.fill(1, r.start, r.stop + 1);
        let twice = 0;
        for (const m of moves) for (const r of m.ranges) twice += r.stop - r.start + 1;
        const moved = times.reduce((a, b) => a + b, 0);
        // Counted once per range and once per slot: equal only when no slot moved twice.
        expect(twice).toBe(moved);
        const sources = new Set(moves.map((m) => m.source));
        for (const m of moves) expect(sources.has(m.target)).toBe(false);
        // The least any plan must move: what removed shards own, plus each kept shard's
        // excess over the band's top. A plan moves no more than that plus the deficits below
        // the band's bottom that excess cannot cover.
        const share = SLOT_COUNT / (cluster.shards.length - removed.size);
        const counts = cluster.shards.map((s) => countSlots(s.slot_ranges));
        const mustGive = counts.reduce(
          (sum, n, i) => sum + (removed.has(i) ? n : Math.max(0, n - Math.floor(share + 1))),
          0,
        );
        const mustTake = counts.reduce(
          (sum, n, i) => sum + (removed.has(i) ? 0 : Math.max(0, Math.ceil(share - 1) - n)),
          0,
        );
        expect(moved).toBeLessThanOrEqual(Math.max(mustGive, mustTake) + counts.length);
        expect(moved).toBeGreaterThanOrEqual(Math.max(mustGive, mustTake));
      }),
      { numRuns: 300 },
    );
  });

  it("a cluster the plan has balanced plans nothing more (idempotent)", () => {
    fc.assert(
      fc.property(shapeAndRemoval, ({ cluster, removed }) => {
        const { after } = applyPlan(cluster, removed);
        const kept = after.shards.filter((_, i) => !removed.has(i));
        expect(planBalance({ ...after, shards: kept })).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
