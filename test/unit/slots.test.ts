import { describe, expect, it } from "vitest";
import {
  containsRange,
  countSlots,
  evenSplit,
  formatSlotRange,
  mergeRanges,
  parseSlotRange,
  rangesOverlap,
  subtractRanges,
} from "../../lib/slots/index.js";
import { keySlot } from "../../lib/slots/keyslot.js";
import { keySlot as simKeySlot } from "../support/kvrocks-sim/keyslot.js";

describe("slot ranges", () => {
  it("parses a single slot and a range", () => {
    expect(parseSlotRange("5")).toEqual({ start: 5, stop: 5 });
    expect(parseSlotRange("1-12")).toEqual({ start: 1, stop: 12 });
    expect(parseSlotRange("0-16383")).toEqual({ start: 0, stop: 16383 });
  });

  it.each(["12-1", "1-65536", "-100", "1-12 5-10", "1-12, 5", "16384", "", "a", "1-", "1--2"])(
    "refuses %j",
    (text) => {
      expect(() => parseSlotRange(text)).toThrow(/invalid slot range/);
    },
  );

  it("formats single slots without a dash", () => {
    expect(formatSlotRange({ start: 7, stop: 7 })).toBe("7");
    expect(formatSlotRange({ start: 7, stop: 9 })).toBe("7-9");
  });

  it("merges adjacent and overlapping ranges", () => {
    const merged = mergeRanges([
      parseSlotRange("5-9"),
      parseSlotRange("1-4"),
      parseSlotRange("20"),
      parseSlotRange("8-12"),
    ]);
    expect(merged.map(formatSlotRange)).toEqual(["1-12", "20"]);
  });

  it("splits a range when a slot is removed from its middle", () => {
    const left = subtractRanges([parseSlotRange("101-199")], [parseSlotRange("150")]);
    expect(left.map(formatSlotRange)).toEqual(["101-149", "151-199"]);
    expect(subtractRanges([parseSlotRange("0-10")], [parseSlotRange("0-10")])).toEqual([]);
  });

  it("splits evenly with the remainder on the last shard", () => {
    const five = evenSplit(5);
    expect(formatSlotRange(five[0]!)).toBe("0-3275");
    expect(formatSlotRange(five[4]!)).toBe("13104-16383");
    expect(countSlots(five)).toBe(16384);
    expect(evenSplit(2).map(formatSlotRange)).toEqual(["0-8191", "8192-16383"]);
    expect(() => evenSplit(0)).toThrow();
  });

  it("treats overlap as inclusive", () => {
    expect(rangesOverlap(parseSlotRange("1-5"), parseSlotRange("5-9"))).toBe(true);
    expect(rangesOverlap(parseSlotRange("1-4"), parseSlotRange("5-9"))).toBe(false);
  });

  it("knows whether a range lies inside a set of ranges", () => {
    const owned = [parseSlotRange("0-10"), parseSlotRange("11-20")];
    expect(containsRange(owned, parseSlotRange("5-15"))).toBe(true);
    expect(containsRange(owned, parseSlotRange("15-21"))).toBe(false);
  });
});

describe("keySlot", () => {
  it("agrees with the simulator's (held to Kvrocks) on plain, tagged and binary keys", () => {
    const keys = ["foo", "bar", "{bar}y", "{}x", "a{}{b}", "{user1000}.following", "é", ""];
    for (let i = 0; i < 500; i++) keys.push(`k${i}`, `{t${i}}:a`);
    for (const k of keys) expect(keySlot(k), k).toBe(simKeySlot(k));
    const binary = Uint8Array.from([0xff, 0x7b, 0x00, 0x7d, 0x80]);
    expect(keySlot(binary)).toBe(simKeySlot(Buffer.from(binary)));
    // Known values: "foo" 12182, "bar" 5061 (Redis Cluster's own examples).
    expect([keySlot("foo"), keySlot("bar")]).toEqual([12182, 5061]);
  });
});
