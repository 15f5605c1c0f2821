// Slot ranges as Kvrocks's SlotRange: {-1,-1} means "none", and an invalid range never
// contains or overlaps anything.

import { parseCIntInRange } from "./c-int.js";
import { errorOf } from "./errors.js";
import { SLOT_COUNT } from "./keyslot.js";

export interface SlotRange {
  readonly start: number;
  readonly end: number;
}

export const NO_RANGE: SlotRange = { start: -1, end: -1 };

export const isValidRange = (r: SlotRange): boolean =>
  r.start >= 0 && r.end >= 0 && r.start <= r.end && r.end < SLOT_COUNT;

export const rangeContains = (r: SlotRange, slot: number): boolean =>
  isValidRange(r) && slot >= r.start && slot <= r.end;

export const rangesOverlap = (a: SlotRange, b: SlotRange): boolean =>
  isValidRange(a) && isValidRange(b) && a.end >= b.start && b.end >= a.start;

export const sameRange = (a: SlotRange, b: SlotRange): boolean =>
  a.start === b.start && a.end === b.end;

export function formatRange(r: SlotRange): string {
  if (!isValidRange(r)) return "-1";
  return r.start === r.end ? `${r.start}` : `${r.start}-${r.end}`;
}

/** Kvrocks's util::Split: split on any of the delimiter characters, dropping empty parts. */
export function splitAny(text: string, delims: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (const ch of text) {
    if (delims.includes(ch)) {
      if (cur !== "") out.push(cur);
      cur = "";
    } else {
      cur += ch;
    }
  }
  if (cur !== "") out.push(cur);
  return out;
}

/**
 * The slot argument of SETSLOT / MIGRATE / CLUSTER IMPORT ("5", "0-100", or several
 * separated by spaces). Throws the ERR reply Kvrocks gives.
 */
export function parseSlotRangesArg(text: string): SlotRange[] {
  if (text === "") throw errorOf("No slots to parse.");
  const parts = splitAny(text, " ");
  if (parts.length === 0) {
    throw errorOf(
      `Invalid slots: \`${text}\`. No slots to parse. Please use spaces to separate slots.`,
    );
  }
  const out: SlotRange[] = [];
  for (const part of parts) {
    if (!part.includes("-")) {
      const n = parseCIntInRange(part, "int32", 0, SLOT_COUNT - 1);
      if (!n.ok) throw errorOf(`Invalid slot id: ${n.msg}`);
      out.push({ start: Number(n.value), end: Number(n.value) });
      continue;
    }
    if (part.startsWith("-") || part.endsWith("-")) {
      throw errorOf(
        `Invalid slot range: \`${part}\`. The character '-' can't appear in the first or last position.`,
      );
    }
    const fields = splitAny(part, "-");
    if (fields.length !== 2) {
      throw errorOf(
        `Invalid slot range: \`${part}\`. The slot range should be of the form \`int1-int2\`.`,
      );
    }
    const a = parseCIntInRange(fields[0]!, "int32", 0, SLOT_COUNT - 1);
    const b = parseCIntInRange(fields[1]!, "int32", 0, SLOT_COUNT - 1);
    if (!a.ok || !b.ok || a.value > b.value) {
      throw errorOf(
        `Invalid slot range: \`${part}\`. The slot range \`int1-int2\` needs to satisfy the condition (int1 <= int2).`,
      );
    }
    out.push({ start: Number(a.value), end: Number(b.value) });
  }
  return out;
}
