import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { crc16, keySlot } from "../support/kvrocks-sim/keyslot.js";

// Vectors captured with CLUSTER KEYSLOT on real Kvrocks 2.10.1 (docs/kvrocks.md, "Key slots").
const loadVectors = (): [string, number][] =>
  (
    JSON.parse(readFileSync(new URL("./keyslot-vectors.json", import.meta.url), "utf8")) as {
      vectors: [string, number][];
    }
  ).vectors;

describe("keySlot", () => {
  const vectors = loadVectors();

  it("has the real server's vectors to check against", () => {
    expect(vectors.length).toBeGreaterThan(50);
  });

  it.each(vectors)("maps %j to slot %i as real Kvrocks does", (key, slot) => {
    expect(keySlot(key)).toBe(slot);
    expect(keySlot(Buffer.from(key, "utf8"))).toBe(slot);
  });

  it("computes CRC16/XMODEM (check value of '123456789' is 0x31C3)", () => {
    expect(crc16(Buffer.from("123456789"))).toBe(0x31c3);
  });

  it("hashes only the first non-empty {tag}", () => {
    expect(keySlot("{user1}.a")).toBe(keySlot("user1"));
    expect(keySlot("{}x")).not.toBe(keySlot("x"));
    expect(keySlot("{a}{b}")).toBe(keySlot("a"));
  });
});
