// The scale planner, pure: which slots move where so every kept master owns 16384/N (±1).
// Only surplus moves: a shard above the band gives exactly the excess, from the end of its
// slots so the pieces stay contiguous; each slot moves at most once.
import { invalid } from "../errors.js";
import type { Cluster } from "../model/index.js";
import { countSlots, mergeRanges, SLOT_COUNT, type SlotRange } from "../slots/index.js";

export interface PlannedMove {
  source: number;
  target: number;
  ranges: SlotRange[];
  slots: number;
}

/** Takes `count` slots from the end of `ranges`; returns them in ascending order. */
export function takeFromEnd(ranges: readonly SlotRange[], count: number): SlotRange[] {
  const taken: SlotRange[] = [];
  let left = count;
  for (const r of [...mergeRanges(ranges)].reverse()) {
    if (left <= 0) break;
    const size = r.stop - r.start + 1;
    const n = Math.min(size, left);
    taken.unshift({ start: r.stop - n + 1, stop: r.stop });
    left -= n;
  }
  return taken;
}

/** Cuts the first `count` slots off `pieces` (ascending); mutates `pieces`. */
function cutFront(pieces: SlotRange[], count: number): SlotRange[] {
  const out: SlotRange[] = [];
  let left = count;
  while (left > 0 && pieces.length > 0) {
    const first = pieces[0]!;
    const size = first.stop - first.start + 1;
    if (size <= left) {
      out.push(pieces.shift()!);
      left -= size;
    } else {
      out.push({ start: first.start, stop: first.start + left - 1 });
      first.start += left;
      left = 0;
    }
  }
  return out;
}

/**
 * How many slots each shard gives and takes. A kept shard within ±1 of 16384/N moves
 * nothing; one outside goes to its exact share (the remainder of the division going to the
 * shards that own the most); removed shards give everything.
 */
export function slotFlows(
  cluster: Cluster,
  removed: ReadonlySet<number>,
): { give: number[]; take: number[] } {
  const kept = cluster.shards.map((_, i) => i).filter((i) => !removed.has(i));
  if (kept.length === 0) throw invalid("cannot remove every shard of the cluster", "remove_shards");
  const counts = cluster.shards.map((s) => countSlots(s.slot_ranges));
  const share = SLOT_COUNT / kept.length;
  const lo = Math.ceil(share - 1);
  const hi = Math.floor(share + 1);
  const base = Math.floor(share);
  const exact = cluster.shards.map(() => 0);
  [...kept]
    .sort((a, b) => counts[b]! - counts[a]! || a - b)
    .forEach((index, rank) => {
      exact[index] = base + (rank < SLOT_COUNT - base * kept.length ? 1 : 0);
    });
  const give = counts.map((n, i) => (removed.has(i) ? n : n > hi ? n - exact[i]! : 0));
  const take = counts.map((n, i) => (removed.has(i) ? 0 : n < lo ? exact[i]! - n : 0));
  const after = (i: number) => counts[i]! - give[i]! + take[i]!;
  let extra = give.reduce((a, b) => a + b, 0) - take.reduce((a, b) => a + b, 0);
  // More given than taken: the rest fills the emptiest kept shards, up to the band's top.
  for (const i of [...kept].sort((a, b) => after(a) - after(b) || a - b)) {
    if (extra <= 0) break;
    if (give[i]! > 0) continue; // a slot never passes through a shard
    const n = Math.min(Math.max(0, hi - after(i)), extra);
    take[i]! += n;
    extra -= n;
  }
  // Less given than taken: the fullest kept shards give, down to the band's bottom.
  for (const i of [...kept].sort((a, b) => after(b) - after(a) || a - b)) {
    if (extra >= 0) break;
    if (take[i]! > 0) continue;
    const n = Math.min(Math.max(0, after(i) - lo), -extra);
    give[i]! += n;
    extra += n;
  }
  return { give, take };
}

/** The moves that bring every shard to its share; grouped per source → target pair. */
export function planBalance(
  cluster: Cluster,
  removed: ReadonlySet<number> = new Set(),
): PlannedMove[] {
  const { give, take } = slotFlows(cluster, removed);
  const takers = take.map((need, index) => ({ index, need })).filter((t) => t.need > 0);
  const moves: PlannedMove[] = [];
  for (const [source, shard] of cluster.shards.entries()) {
    const surplus = give[source]!;
    if (surplus <= 0) continue;
    const pieces = takeFromEnd(shard.slot_ranges, surplus);
    for (const taker of takers) {
      if (pieces.length === 0) break;
      if (taker.need <= 0) continue;
      const given = cutFront(pieces, taker.need);
      const slots = countSlots(given);
      taker.need -= slots;
      moves.push({ source, target: taker.index, ranges: mergeRanges(given), slots });
    }
  }
  return moves;
}
