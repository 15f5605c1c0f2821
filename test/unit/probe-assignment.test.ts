// The probe's cluster assignment: every invocation computes it alone from the same registry,
// so it must be deterministic, fair and move few clusters when an invocation joins or leaves.
import { describe, expect, it } from "vitest";
import { assignClusters } from "../../lib/probe/index.js";

const clusters = Array.from({ length: 60 }, (_, i) => `ns/c${i}`);
const counts = (a: Map<string, string>) => {
  const by = new Map<string, number>();
  for (const m of a.values()) by.set(m, (by.get(m) ?? 0) + 1);
  return [...by.values()].sort((x, y) => x - y);
};

describe("assignClusters", () => {
  it("gives every cluster exactly one owner, none more than its fair share", () => {
    const a = assignClusters(clusters, ["x", "y", "z"]);
    expect(a.size).toBe(60);
    expect(counts(a)).toEqual([20, 20, 20]);
    expect(counts(assignClusters(clusters, ["x", "y", "z", "w", "v", "u", "t"]))).toEqual(
      expect.arrayContaining([9, 8]),
    );
    for (const n of counts(assignClusters(clusters, ["a", "b", "c", "d", "e", "f", "g"])))
      expect(n).toBeLessThanOrEqual(Math.ceil(60 / 7));
  });

  it("is the same whatever the order the registry was read in", () => {
    expect([...assignClusters(clusters, ["x", "y", "z"])].sort()).toEqual(
      [...assignClusters([...clusters].reverse(), ["z", "x", "y"])].sort(),
    );
  });

  it("moves few clusters when an invocation joins", () => {
    const before = assignClusters(clusters, ["x", "y"]);
    const after = assignClusters(clusters, ["x", "y", "z"]);
    const moved = clusters.filter((c) => before.get(c) !== after.get(c)).length;
    // z must get 20; moving many more would hand clusters around for nothing.
    expect(moved).toBeGreaterThanOrEqual(20);
    expect(moved).toBeLessThanOrEqual(30);
  });

  it("gives nothing when no invocation is registered", () => {
    expect(assignClusters(clusters, []).size).toBe(0);
  });
});
