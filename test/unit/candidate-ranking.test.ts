// Candidate ranking as a table: each rule of `rankCandidates` with the one input that trips
// it, what `force` waives (the data rules only), and the order `pickNewMaster` promotes in.
// The properties over generated inputs are in rules-properties.test.ts.
import { describe, expect, it } from "vitest";
import type { ReplicationInfo } from "../../lib/kvrocks/index.js";
import {
  type CandidateReport,
  type DataKnowledge,
  NOTHING_KNOWN,
  pickNewMaster,
  rankCandidates,
} from "../../lib/ops/failover.js";

type Report = Omit<CandidateReport, "ineligible">;

function replica(id: string, info: Partial<ReplicationInfo> | null, error?: string): Report {
  return {
    id,
    addr: `127.0.0.1:${7000 + id.charCodeAt(0)}`,
    version: 1,
    error: info ? null : (error ?? "connect ECONNREFUSED"),
    info: info
      ? {
          role: "slave",
          masterHost: "127.0.0.1",
          masterPort: 7000,
          masterLinkUp: true,
          syncInProgress: false,
          slaveReplOffset: 0,
          masterReplOffset: 0,
          connectedSlaves: 0,
          sequence: 0,
          ...info,
        }
      : null,
  };
}

/** The master was read by a probe round and held data; both replicas seen following it. */
const seenWithData: DataKnowledge = {
  masterHadData: true,
  masterSeen: true,
  linked: ["a", "b"],
  stale: {},
};
const seenEmpty: DataKnowledge = { ...seenWithData, masterHadData: false };

const ELIGIBLE = null;

describe("rankCandidates: one rule a row", () => {
  it.each<[string, Report[], DataKnowledge, string | null]>([
    ["a linked replica holding data", [replica("a", { sequence: 10 })], seenWithData, ELIGIBLE],
    [
      "a node that does not answer",
      [replica("a", null, "timeout")],
      seenWithData,
      "does not answer (timeout)",
    ],
    [
      "a node answering as master",
      [replica("a", { role: "master", sequence: 10 })],
      seenWithData,
      "reports role:master",
    ],
    [
      "a replica in a full sync",
      [replica("a", { syncInProgress: true, sequence: 10 })],
      seenWithData,
      "is in a full sync",
    ],
    [
      "an empty replica of a master that had data",
      [replica("a", { sequence: 0 })],
      seenWithData,
      "has no data (sequence 0) while its master had data",
    ],
    [
      "an empty replica while another has data (master seen empty)",
      [replica("a", { sequence: 0 }), replica("b", { sequence: 3 })],
      seenEmpty,
      "has no data while another replica has",
    ],
    [
      "an empty replica of a master seen empty (a new cluster)",
      [replica("a", { sequence: 0 })],
      seenEmpty,
      ELIGIBLE,
    ],
    [
      "an empty replica of a master no round saw",
      [replica("a", { sequence: 0 })],
      { ...NOTHING_KNOWN, linked: ["a"] },
      "has no data (sequence 0) and the probe never saw its master",
    ],
    [
      "a replica never seen linked, of a master no round saw",
      [replica("a", { sequence: 10 })],
      { ...NOTHING_KNOWN, linked: [] },
      "has its link to its master never seen up",
    ],
    [
      "a replica seen linked, of a master no round saw",
      [replica("a", { sequence: 10 })],
      { ...NOTHING_KNOWN, linked: ["a"] },
      ELIGIBLE,
    ],
    [
      "a replica that missed writes (stale)",
      [replica("a", { sequence: 10 })],
      { ...seenWithData, stale: { a: "missed writes: its link was down" } },
      "missed writes: its link was down",
    ],
    [
      "a replica below what its master had when its link was seen down",
      [replica("a", { sequence: 9 })],
      { ...seenWithData, holds: { a: 10 } },
      "missed writes: at sequence 9, while its master had reached 10",
    ],
    [
      "a replica holding what its master had when its link was seen down",
      [replica("a", { sequence: 10 })],
      { ...seenWithData, holds: { a: 10 } },
      ELIGIBLE,
    ],
  ])("%s", (_name, reports, knowledge, expected) => {
    const [first] = rankCandidates(reports, knowledge);
    if (expected === null) expect(first!.ineligible).toBeNull();
    else expect(first!.ineligible).toContain(expected);
  });
});

describe("rankCandidates: force waives the data rules for the named node only", () => {
  it.each<[string, Report, DataKnowledge, boolean]>([
    ["empty under a master that had data", replica("a", { sequence: 0 }), seenWithData, true],
    [
      "stale",
      replica("a", { sequence: 10 }),
      { ...seenWithData, stale: { a: "missed writes" } },
      true,
    ],
    [
      "below what it must hold",
      replica("a", { sequence: 1 }),
      { ...seenWithData, holds: { a: 5 } },
      true,
    ],
    [
      "never seen linked, master unseen",
      replica("a", { sequence: 4 }),
      { ...NOTHING_KNOWN, linked: [] },
      true,
    ],
    ["not answering", replica("a", null), seenWithData, false],
    ["answering as master", replica("a", { role: "master", sequence: 4 }), seenWithData, false],
    ["in a full sync", replica("a", { syncInProgress: true, sequence: 4 }), seenWithData, false],
  ])("%s: eligible when forced = %s", (_name, report, knowledge, waived) => {
    const other = replica("b", { sequence: 0 });
    const ranked = rankCandidates([report, other], knowledge, "a");
    expect(ranked[0]!.ineligible === null).toBe(waived);
    // The other node is judged as without force.
    expect(ranked[1]!.ineligible).toBe(rankCandidates([report, other], knowledge)[1]!.ineligible);
  });
});

describe("pickNewMaster", () => {
  it.each<[string, Report[], DataKnowledge, string | null]>([
    [
      "the highest sequence",
      [replica("a", { sequence: 5 }), replica("b", { sequence: 9 })],
      seenWithData,
      "b",
    ],
    [
      "ties broken by replication offset",
      [
        replica("a", { sequence: 9, slaveReplOffset: 100 }),
        replica("b", { sequence: 9, slaveReplOffset: 50 }),
      ],
      seenWithData,
      "a",
    ],
    [
      "an eligible node over an ineligible one holding more",
      [replica("a", { sequence: 5 }), replica("b", { sequence: 9, syncInProgress: true })],
      seenWithData,
      "a",
    ],
    [
      "nobody when none is eligible",
      [replica("a", { sequence: 0 }), replica("b", null)],
      seenWithData,
      null,
    ],
    ["nobody without replicas", [], seenWithData, null],
  ])("%s", (_name, reports, knowledge, expected) => {
    expect(pickNewMaster(rankCandidates(reports, knowledge))?.id ?? null).toBe(expected);
  });
});
