// The engine's decisions, pure: (task, stored cluster, source report) -> next step, and
// which queued tasks may start.
import { describe, expect, it } from "vitest";
import { type ClusterInfo, parseClusterNodes } from "../../lib/kvrocks/index.js";
import { decideRemoval, decideStep, nextRange, startableTasks } from "../../lib/migration/index.js";
import type { Cluster, Task } from "../../lib/model/index.js";
import { newMigrationTask, overlapsActive } from "../../lib/ops/index.js";
import { parseSlotRange } from "../../lib/slots/index.js";

const A = "a".repeat(40);
const B = "b".repeat(40);

function cluster(record: string | null = null): Cluster {
  const shard = (id: string, port: number, ranges: string[]) => ({
    nodes: [
      { id, addr: `127.0.0.1:${port}`, role: "master" as const, password: "", created_at: 0 },
    ],
    slot_ranges: ranges.map((r) => parseSlotRange(r)),
    target_shard_index: -1,
    migrating_slot: null as ReturnType<typeof parseSlotRange> | null,
  });
  const c: Cluster = {
    name: "c",
    version: 5,
    shards: [shard(A, 7000, ["0-8191"]), shard(B, 7001, ["8192-16383"])],
  };
  if (record) {
    c.shards[0]!.migrating_slot = parseSlotRange(record);
    c.shards[0]!.target_shard_index = 1;
  }
  return c;
}

function task(over: Partial<Task> = {}): Task {
  const base = newMigrationTask({
    id: "000000000000001-000aaaaaa",
    source: 0,
    target: 1,
    ranges: ["10", "11-14", "100-200"].map((r) => parseSlotRange(r)),
    now: 0,
  });
  return {
    ...base,
    state: "running",
    in_flight: "11-14",
    in_flight_started_at: 1000,
    in_flight_sent: true,
    ...over,
  };
}

function info(
  migrating: { range: string; state: "start" | "success" | "fail"; dst?: string } | null,
  epoch = 5,
): ClusterInfo {
  return {
    state: "ok",
    slotsAssigned: 16384,
    knownNodes: 2,
    currentEpoch: epoch,
    myEpoch: epoch,
    migrating: migrating
      ? {
          ranges: [parseSlotRange(migrating.range)],
          destination: migrating.dst ?? B,
          state: migrating.state,
        }
      : null,
    importing: null,
  };
}

const step = (t: Task, c: Cluster, i: ClusterInfo | string, now = 2000) =>
  decideStep({
    task: t,
    cluster: c,
    report: typeof i === "string" ? { error: i } : { info: i },
    now,
    timeoutMs: 5000,
  });

describe("decideStep", () => {
  it("waits while the node migrates our range", () => {
    expect(step(task(), cluster("11-14"), info({ range: "11-14", state: "start" })).kind).toBe(
      "wait",
    );
  });

  it("completes on success for the range we sent", () => {
    expect(step(task(), cluster("11-14"), info({ range: "11-14", state: "success" }))).toEqual({
      kind: "complete",
    });
  });

  it("does not trust success lines for another range (they stay after success)", () => {
    const a = step(task(), cluster("11-14"), info({ range: "10", state: "success" }));
    expect(a).toEqual({ kind: "send", pushFirst: false });
  });

  it("re-sends when the node reports nothing (restart, or crash before MIGRATE)", () => {
    expect(step(task(), cluster("11-14"), info(null)).kind).toBe("send");
    expect(step(task({ in_flight_sent: false }), cluster(), info(null)).kind).toBe("send");
  });

  it("pushes first when the source is behind (it may still hold the last range's MOVED state)", () => {
    expect(step(task(), cluster("11-14"), info({ range: "10", state: "success" }, 4))).toEqual({
      kind: "send",
      pushFirst: true,
    });
  });

  it("fails with the node's state when the range fails", () => {
    const a = step(task(), cluster("11-14"), info({ range: "11-14", state: "fail" }));
    expect(a.kind).toBe("fail");
    expect(a.kind === "fail" && a.why).toMatch(/migrating_state: fail for 11-14/);
  });

  it("a success after a send to a source seen clean is this attempt's, answer lost or not", () => {
    const lost = task({ in_flight_sent: false, in_flight_clean: true });
    const success = info({ range: "11-14", state: "success" });
    expect(step(lost, cluster("11-14"), success).kind).toBe("complete");
    // A fail is not covered: it may be an earlier attempt's, so the range is sent again.
    const fail = info({ range: "11-14", state: "fail" });
    expect(step(lost, cluster("11-14"), fail).kind).toBe("send");
  });

  it("a success reported by a source master the attempt was not sent to proves nothing", () => {
    // Sent to (and checked clean on) another node, before a failover made A the master: A's
    // success lines are its own history from a move it made long ago.
    const other = "c".repeat(40);
    const success = info({ range: "11-14", state: "success" });
    const elsewhere = task({
      in_flight_source: other,
      in_flight_sent: true,
      in_flight_clean: true,
      in_flight_target: B,
    });
    expect(step(elsewhere, cluster("11-14"), success).kind).toBe("send");
    // The target's import state still decides for an acknowledged attempt.
    const imported: ClusterInfo = {
      ...info(null),
      importing: { ranges: [parseSlotRange("11-14")], state: "success" },
    };
    const decided = decideStep({
      task: elsewhere,
      cluster: cluster("11-14"),
      report: { info: success },
      target: { info: imported },
      now: 2000,
      timeoutMs: 5000,
    });
    expect(decided.kind).toBe("complete");
    // Bound to A itself: A's success after a clean send is proof.
    const here = task({ in_flight_source: A, in_flight_sent: false, in_flight_clean: true });
    expect(step(here, cluster("11-14"), success).kind).toBe("complete");
  });

  it("a target's import success proves only an attempt sent while that target was seen clean", () => {
    // The source master changed since MIGRATE (a failover): only the target can tell.
    const imported: ClusterInfo = {
      ...info(null),
      importing: { ranges: [parseSlotRange("11-14")], state: "success" },
    };
    const decide = (over: Partial<Task>) =>
      decideStep({
        task: task({ in_flight_source: "c".repeat(40), in_flight_clean: true, ...over }),
        cluster: cluster("11-14"),
        report: { info: info(null) },
        target: { info: imported },
        now: 2000,
        timeoutMs: 5000,
      }).kind;
    // B was seen clean before MIGRATE went out: its success is this attempt's.
    expect(decide({ in_flight_target: B })).toBe("complete");
    // No target was seen clean (it kept a success from an earlier import of 11-14, or did not
    // answer): the lines may be that move's (A→B, B→A, A→B again), so the range is sent again.
    expect(decide({ in_flight_target: null })).toBe("send");
    // Another node was the target master then (a failover there): B's lines are its own.
    expect(decide({ in_flight_target: "d".repeat(40) })).toBe("send");
    // A task of an older version, bound to no node: the target's word counts, as it did.
    expect(decide({ in_flight_source: null, in_flight_target: null })).toBe("complete");
  });

  it("a fail or success seen before MIGRATE was acknowledged may be stale: send again", () => {
    const unsent = task({ in_flight_sent: false });
    expect(step(unsent, cluster("11-14"), info({ range: "11-14", state: "fail" })).kind).toBe(
      "send",
    );
    expect(step(unsent, cluster("11-14"), info({ range: "11-14", state: "success" })).kind).toBe(
      "send",
    );
  });

  it("past the timeout a range is slow, never given up while the source migrates it", () => {
    const a = step(task(), cluster("11-14"), info({ range: "11-14", state: "start" }), 7000);
    expect(a).toMatchObject({ kind: "wait", slow: true });
    expect(a.kind === "wait" && a.why).toMatch(/past the 5000 ms migration timeout/);
    expect(step(task(), cluster("11-14"), "timeout", 7000)).toMatchObject({
      kind: "wait",
      slow: true,
    });
    expect(step(task(), cluster("11-14"), "timeout", 3000)).toEqual(
      expect.objectContaining({ kind: "wait" }),
    );
    expect(step(task(), cluster("11-14"), "timeout", 3000)).not.toHaveProperty("slow");
  });

  it("once the source forgot the range (failover, restart), the target's import state decides", () => {
    const importing = (state: "start" | "success" | "error"): ClusterInfo => ({
      ...info(null),
      importing: { ranges: [parseSlotRange("11-14")], state },
    });
    const decide = (t: Task, target: ClusterInfo) =>
      decideStep({
        task: t,
        cluster: cluster("11-14"),
        report: { info: info(null) },
        target: { info: target },
        now: 2000,
        timeoutMs: 5000,
      }).kind;
    // The target took the range over (and may have accepted writes): complete, never resend.
    expect(decide(task(), importing("success"))).toBe("complete");
    // Still importing from a source that is gone: wait for its link to drop.
    expect(decide(task(), importing("start"))).toBe("wait");
    expect(decide(task(), importing("error"))).toBe("send");
    // Before MIGRATE was acknowledged, an import success may be left from an earlier move.
    expect(decide(task({ in_flight_sent: false }), importing("success"))).toBe("send");
  });

  it("a late success still completes after the deadline", () => {
    const a = step(task(), cluster("11-14"), info({ range: "11-14", state: "success" }), 9000);
    expect(a.kind).toBe("complete");
  });

  it("fails when the node migrates a range that is not ours", () => {
    const a = step(task(), cluster("11-14"), info({ range: "500-600", state: "start" }));
    expect(a.kind === "fail" && a.why).toMatch(/migrating 500-600/);
  });

  it("records the range done when etcd already moved it (crash after the move)", () => {
    const c = cluster();
    c.shards[0]!.slot_ranges = [parseSlotRange("0-10"), parseSlotRange("15-8191")];
    c.shards[1]!.slot_ranges = [parseSlotRange("11-14"), parseSlotRange("8192-16383")];
    expect(step(task(), c, info({ range: "11-14", state: "success" })).kind).toBe("record_done");
  });

  it("fails when the source no longer owns the range", () => {
    const c = cluster();
    c.shards[0]!.slot_ranges = [parseSlotRange("0-10"), parseSlotRange("15-8191")];
    c.shards[1]!.slot_ranges = [parseSlotRange("8192-16383")];
    const a = step(task(), c, info(null));
    expect(a.kind === "fail" && a.why).toMatch(/no longer owned by shard 0/);
  });

  it("fails when the shard records a migration that is not the task's", () => {
    const a = step(task(), cluster("500-600"), info(null));
    expect(a.kind === "fail" && a.why).toMatch(/records another migration/);
  });

  it("moves on when nothing is in flight", () => {
    expect(step(task({ in_flight: null }), cluster(), info(null)).kind).toBe("next");
  });
});

describe("nextRange", () => {
  it("skips done ranges and the one in flight", () => {
    expect(nextRange(task({ in_flight: "10", done: [] }))).toBe("11-14");
    expect(nextRange(task({ in_flight: null, done: ["10", "11-14"] }))).toBe("100-200");
    expect(nextRange(task({ in_flight: null, done: ["10", "11-14", "100-200"] }))).toBeNull();
  });
});

describe("startableTasks", () => {
  const t = (id: string, source: number, target: number, state: Task["state"] = "queued") =>
    ({ ...task({ id, source, target, state }), in_flight: null }) as Task;

  it("starts different shard pairs at once, one range per shard", () => {
    const started = startableTasks([t("1", 0, 2), t("2", 1, 3), t("3", 0, 3)]);
    expect(started.map((x) => x.id)).toEqual(["1", "2"]);
  });

  it("a running task holds its shards; a queued one holds them against younger tasks", () => {
    expect(
      startableTasks([t("1", 0, 1, "running"), t("2", 1, 2), t("3", 2, 3)]).map((x) => x.id),
    ).toEqual([]);
    expect(startableTasks([t("1", 0, 1, "running"), t("2", 2, 3)]).map((x) => x.id)).toEqual(["2"]);
  });

  it("a removal waits for everything before it and blocks everything after it", () => {
    const removal = { ...t("5", -1, -1), kind: "remove_shards" as const };
    expect(startableTasks([t("1", 0, 1, "running"), removal, t("6", 2, 3)])).toEqual([]);
    expect(
      startableTasks([t("1", 0, 1, "succeeded"), removal, t("6", 2, 3)]).map((x) => x.id),
    ).toEqual(["5"]);
  });

  it("a removal waits while a finished task still has a range in flight (a late success)", () => {
    // The failed task keeps its range in flight and its source shard's migration record until
    // the node says how it ended; removing shards meanwhile is refused (the record would point
    // at renumbered shards), so a removal started now fails instead of waiting its turn.
    // Found by rules-properties.test.ts ("one task per shard at a time ...").
    const removal = { ...t("1", -1, -1), kind: "remove_shards" as const };
    const lingering = { ...t("2", 0, 1, "failed"), in_flight: "1" } as Task;
    expect(startableTasks([removal, lingering])).toEqual([]);
    expect(startableTasks([lingering, removal])).toEqual([]);
    expect(startableTasks([{ ...lingering, in_flight: null }, removal]).map((x) => x.id)).toEqual([
      "1",
    ]);
  });
});

describe("decideRemoval", () => {
  it("removes when the plan succeeded, fails when a move failed", () => {
    const removal = { ...task({ id: "9", plan: "p" }), kind: "remove_shards" as const };
    const move = (state: Task["state"]) => task({ id: "1", plan: "p", state });
    expect(decideRemoval(removal, [move("succeeded"), removal]).kind).toBe("remove");
    expect(decideRemoval(removal, [move("running"), removal]).kind).toBe("wait");
    expect(decideRemoval(removal, [move("failed"), removal]).kind).toBe("fail");
  });
});

describe("overlapsActive", () => {
  it("finds a range another active task still has to move", () => {
    const tasks = [task({ done: ["10"] })];
    expect(overlapsActive([parseSlotRange("10")], tasks)).toBeNull();
    expect(overlapsActive([parseSlotRange("150-300")], tasks)?.task.id).toBe(tasks[0]!.id);
    expect(overlapsActive([parseSlotRange("150")], [task({ state: "failed" })])).toBeNull();
  });
});

describe("CLUSTER NODES while a range moves", () => {
  it("reads the importing marker of the target (it must not fail the probe)", () => {
    const line = `${B} 127.0.0.1:7001@17001 myself,master - 1 2 5 connected 8192-16383 [100-200-<-${A}]`;
    const [node] = parseClusterNodes(line);
    expect(node!.slots).toEqual([{ start: 8192, stop: 16383 }]);
    const source = `${A} 127.0.0.1:7000@17000 myself,master - 1 2 5 connected 0-8191 [100-200->-${B}]`;
    expect(parseClusterNodes(source)[0]!.migratingTo).toBe(B);
  });
});
