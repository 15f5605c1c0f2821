import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ProbeInvocation, startInvocation } from "../../lib/probe/index.js";
import { type Harness, startHarness } from "../support/harness.js";
import { probeDeps, round } from "./helpers.js";

let h: Harness;
let invocation: ProbeInvocation;

beforeAll(async () => {
  h = await startHarness({ label: "quiet" });
  await h.createCluster("q", "c", await h.startNodes(4), 2);
  invocation = await startInvocation(probeDeps(h), h.settings, true);
});
afterAll(async () => {
  await invocation?.end();
  await h?.close();
});

describe("a healthy round of a running invocation", () => {
  it("writes nothing to etcd, locks and leases included", async () => {
    await round(h, invocation); // first sight of the nodes and the ownership are recorded
    const watcher = await h.etcd.watch().prefix(h.prefix).create();
    const writes: string[] = [];
    watcher.on("put", (kv) => writes.push(kv.key.toString()));
    watcher.on("delete", (kv) => writes.push(kv.key.toString()));
    const summaries = [await round(h, invocation), await round(h, invocation)];
    summaries.push(await round(h, invocation));
    await new Promise((r) => setTimeout(r, 200));
    await watcher.cancel();
    expect(summaries.map((s) => s.probed)).toEqual([1, 1, 1]);
    expect(summaries.every((s) => s.reports[0]!.stateWritten === false)).toBe(true);
    expect(writes).toEqual([]);
  });

  it("a one-round run (--once) takes the cluster only while no invocation owns it", async () => {
    const once = await round(h);
    expect(once.probed).toBe(0);
    expect(once.skipped).toBe(1);
  });
});
