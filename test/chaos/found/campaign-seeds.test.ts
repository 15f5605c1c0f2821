// The fault campaign (test/chaos/campaign.ts, `npm run chaos`) on real Kvrocks: three fixed
// seeds of 60 s each, quorum 1 and 2, every invariant of docs/safety.md §3 held. A violation
// fails the test with the seed, the invariant and the timeline around it; the same run is
// `KVROCKS_BIN=... npm run chaos -- --seed S --minutes 1 --quorum Q`.
//
// Meant for the real-node suite (CI: about 4 min for the three). The documented exceptions of
// docs/safety.md P2 (an old master restarted with its data dir, or thawed, serving its lost
// slots until the probe's next push: restarted-old-master.test.ts) are counted apart by the
// campaign only within their bound; a longer window is a violation (docs/chaos.md). It is
// still here, outside every suite, because seed 2 (quorum 2) can fail on invariant 1: an empty
// restart of a master that one observer witnesses answering before quorum is reached, its
// replica full-syncing the emptiness (docs/chaos.md, finding 5). Once that is fixed, move it to
// test/kvrocks/ (test/kvrocks.vitest.config.ts takes it). Invariant 3 assumes a host that is
// not saturated (docs/chaos.md, finding 4).
import { describe, expect, it } from "vitest";
import { usingRealKvrocks } from "../../support/nodes.js";
import { runCampaign } from "../campaign.js";
import { INVARIANTS } from "../timeline.js";

const SEEDS: { seed: number; quorum: number }[] = [
  { seed: 1, quorum: 1 },
  { seed: 2, quorum: 2 },
  { seed: 3, quorum: 1 },
];

describe("the fault campaign on real Kvrocks", () => {
  for (const { seed, quorum } of SEEDS) {
    it(`seed ${seed}, quorum ${quorum}, 60 s: no invariant violated`, async () => {
      const lines: string[] = [];
      const result = await runCampaign({
        seed,
        minutes: 1,
        nodes: usingRealKvrocks() ? "real" : "sim",
        quorum,
        echo: (line) => lines.push(line),
      });
      const report = result.violations.map(
        (v) =>
          `invariant ${v.invariant} (${INVARIANTS[v.invariant]}): ${v.what}\n${v.around.join("\n")}`,
      );
      // What was counted apart, in the test's output (not asserted: it depends on the timing).
      console.log(
        `seed ${seed}: ${result.exceptions.length} documented exceptions counted apart` +
          result.exceptions
            .map(
              (e) =>
                `; ${e.kind} ${e.addr} window ${e.windowMs} ms, ${e.accepted} checker writes, ${e.lostWrites} client writes lost`,
            )
            .join(""),
      );
      expect(report, lines.join("\n")).toEqual([]);
      // The run did what it is for: faults and operations happened under a client load, so
      // a clean result is about them and not about an idle cluster.
      const faults = Object.values(result.faults).reduce((a, b) => a + b, 0);
      const ops = Object.values(result.ops).reduce((a, b) => a + b, 0);
      expect(faults, lines.join("\n")).toBeGreaterThanOrEqual(5);
      expect(ops, lines.join("\n")).toBeGreaterThanOrEqual(5);
      expect(result.acked).toBeGreaterThan(5000);
      expect(result.failovers).toBeGreaterThan(0);
    }, 240_000);
  }
});
