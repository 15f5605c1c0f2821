// Slot ranges as the console needs them: parsed by lib/slots, the server's own parser.
import { countSlots, parseSlotRange, type SlotRange } from "../../../lib/slots/ranges.js";

export { SLOT_COUNT } from "../../../lib/slots/ranges.js";

/** A range from the API, or null when it does not parse (a hand-edited document). */
export function rangeOf(text: string | number): SlotRange | null {
  try {
    return parseSlotRange(String(text));
  } catch {
    return null;
  }
}

/** Slots in the ranges; null when one does not parse. */
export function slotCount(ranges: readonly string[] | null | undefined): number | null {
  const parsed = (ranges ?? []).map(rangeOf);
  if (parsed.some((r) => r === null)) return null;
  return countSlots(parsed as SlotRange[]);
}

const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#e15759",
  "#76b7b2",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#17becf",
  "#bcbd22",
  "#8c564b",
];
export const MIGRATING_COLOR = "#ff00cc";
export const UNASSIGNED_COLOR = "#9aa0aa";

export function shardColor(i: number): string {
  return PALETTE[i] ?? `hsl(${((i * 137.508) % 360).toFixed(1)} 62% 52%)`;
}
