// Slot ranges: the unit every topology change is expressed in. Pure, no I/O, no zod: the
// console's browser bundle imports this file.
import { invalid } from "../errors.js";

export const SLOT_COUNT = 16384;
export const MAX_SLOT = SLOT_COUNT - 1;

export interface SlotRange {
  start: number;
  stop: number;
}

const rangePattern = /^(\d{1,5})(?:-(\d{1,5}))?$/;

/** Parses `"5"` or `"1-12"`; anything else (reversed, out of range, lists) is refused. */
export function parseSlotRange(text: string, field = "slot"): SlotRange {
  const match = rangePattern.exec(text.trim());
  if (!match) {
    throw invalid(
      `invalid slot range "${text}": expected N or A-B with 0 <= A <= B <= ${MAX_SLOT}`,
      field,
    );
  }
  const start = Number(match[1]);
  const stop = match[2] === undefined ? start : Number(match[2]);
  if (start > MAX_SLOT || stop > MAX_SLOT) {
    throw invalid(`invalid slot range "${text}": slots go from 0 to ${MAX_SLOT}`, field);
  }
  if (start > stop) {
    throw invalid(`invalid slot range "${text}": start is after stop`, field);
  }
  return { start, stop };
}

export function formatSlotRange(range: SlotRange): string {
  return range.start === range.stop ? `${range.start}` : `${range.start}-${range.stop}`;
}

export function formatSlotRanges(ranges: readonly SlotRange[]): string[] {
  return ranges.map(formatSlotRange);
}

export function countSlots(ranges: readonly SlotRange[]): number {
  return ranges.reduce((sum, r) => sum + (r.stop - r.start + 1), 0);
}

/** Inclusive: `1-5` and `5-9` overlap on slot 5. */
export function rangesOverlap(a: SlotRange, b: SlotRange): boolean {
  return a.start <= b.stop && b.start <= a.stop;
}

/** Sorted, with overlapping and adjacent ranges joined (`1-4`,`5-9` → `1-9`). */
export function mergeRanges(ranges: readonly SlotRange[]): SlotRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const out: SlotRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.stop + 1) {
      last.stop = Math.max(last.stop, r.stop);
    } else {
      out.push({ ...r });
    }
  }
  return out;
}

/** `ranges` without the slots of `removed` (150 out of `101-199` → `101-149`,`151-199`). */
export function subtractRanges(
  ranges: readonly SlotRange[],
  removed: readonly SlotRange[],
): SlotRange[] {
  let current = mergeRanges(ranges);
  for (const cut of mergeRanges(removed)) {
    const next: SlotRange[] = [];
    for (const r of current) {
      if (!rangesOverlap(r, cut)) {
        next.push(r);
        continue;
      }
      if (r.start < cut.start) next.push({ start: r.start, stop: cut.start - 1 });
      if (r.stop > cut.stop) next.push({ start: cut.stop + 1, stop: r.stop });
    }
    current = next;
  }
  return current;
}

/** Whether every slot of `range` is in `ranges`. */
export function containsRange(ranges: readonly SlotRange[], range: SlotRange): boolean {
  return subtractRanges([range], ranges).length === 0;
}

/**
 * `ranges` cut into pieces of at most `max` slots each, in order: a planned move is carried
 * out piece by piece, so each piece's final phase (writes refused, then redirected until the
 * new owner is pushed) stays short and a piece takes few enough writes to converge.
 */
export function splitRanges(ranges: readonly SlotRange[], max: number): SlotRange[] {
  if (!Number.isInteger(max) || max < 1) {
    throw invalid(`cannot split ranges into pieces of ${max} slots`, "max_range_slots");
  }
  const out: SlotRange[] = [];
  for (const r of ranges) {
    for (let start = r.start; start <= r.stop; start += max) {
      out.push({ start, stop: Math.min(r.stop, start + max - 1) });
    }
  }
  return out;
}

/** Slots `0..16383` split over `n` shards in order; the last takes the remainder. */
export function evenSplit(n: number): SlotRange[] {
  if (!Number.isInteger(n) || n < 1 || n > SLOT_COUNT) {
    throw invalid(`cannot split slots over ${n} shards`, "shards");
  }
  const chunk = Math.floor(SLOT_COUNT / n);
  return Array.from({ length: n }, (_, i) => ({
    start: i * chunk,
    stop: i === n - 1 ? MAX_SLOT : (i + 1) * chunk - 1,
  }));
}
