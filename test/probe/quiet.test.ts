import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../support/harness.js";
import { round } from "./helpers.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ label: "quiet" });
  await h.createCluster("q", "c", await h.startNodes(4), 2);
});
afterAll(async () => h.close());

describe("a healthy round", () => {
  it("writes nothing to etcd besides its own lock", async () => {
    await round(h); // first sight of the nodes is recorded
    const watcher = await h.etcd.watch().prefix(h.prefix).create();
    const writes: string[] = [];
    watcher.on("put", (kv) => writes.push(kv.key.toString()));
    watcher.on("delete", (kv) => writes.push(kv.key.toString()));
    const summaries = [await round(h), await round(h), await round(h)];
    await new Promise((r) => setTimeout(r, 200));
    await watcher.cancel();
    expect(summaries.map((s) => s.probed)).toEqual([1, 1, 1]);
    expect(summaries.every((s) => s.reports[0]!.stateWritten === false)).toBe(true);
    const locks = `${h.prefix}/locks/`;
    expect(writes.filter((k) => !k.startsWith(locks))).toEqual([]);
    // The lock is taken and released once per round: proof the watcher saw the rounds.
    expect(writes.filter((k) => k.startsWith(locks)).length).toBeGreaterThanOrEqual(3);
  });
});
