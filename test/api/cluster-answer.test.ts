// GET cluster's answer is kept per stored text (functions/cluster-answer.ts): it must always be
// the answer for the document etcd gave this request, never one kept from an earlier read.
import { describe, expect, it } from "vitest";
import { clusterAnswers } from "../../functions/cluster-answer.js";

const doc = (version: number, password = "") =>
  JSON.stringify({
    name: "c1",
    version,
    shards: [
      {
        nodes: [
          {
            id: "a".repeat(40),
            addr: "127.0.0.1:30001",
            role: "master",
            password,
            created_at: 1,
          },
        ],
        slot_ranges: ["0-16383"],
        target_shard_index: -1,
        migrating_slot: null,
      },
    ],
  });

describe("GET cluster's answer per stored document", () => {
  it("answers each document read, redacted, whatever was answered before", () => {
    const answerOf = clusterAnswers();
    const first = JSON.parse(answerOf("ns", "c1", doc(1, "secret")));
    expect(first.data.cluster.version).toBe(1);
    expect(first.data.cluster.shards[0].nodes[0].password).toBe("******");
    expect(JSON.parse(answerOf("ns", "c1", doc(1, "secret")))).toEqual(first);
    // The document changed in etcd: the next answer is the new one.
    expect(JSON.parse(answerOf("ns", "c1", doc(2))).data.cluster.version).toBe(2);
  });

  it("answers a document that no longer decodes with the decoding error, not the last answer", () => {
    const answerOf = clusterAnswers();
    answerOf("ns", "c1", doc(1));
    expect(() => answerOf("ns", "c1", "{not json")).toThrow(/cluster ns\/c1 in etcd is invalid/);
    expect(() => answerOf("ns", "c1", JSON.stringify({ name: "c1" }))).toThrow(/version/);
  });
});
