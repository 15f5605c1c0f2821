import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../functions/app.js";
import { loadConfig } from "../../lib/config/index.js";
import { allNodes } from "../../lib/model/index.js";
import { openRuntime, type Runtime } from "../../lib/runtime.js";
import { DEFAULT_CAS_ATTEMPTS } from "../../lib/store/retry.js";
import { sharedEtcdEndpoints } from "../support/env.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";

let h: Harness;
let second: Runtime;
let secondApp: ReturnType<typeof createApp>;

beforeAll(async () => {
  h = await startHarness({ label: "race" });
  // A second, independent instance over the same etcd and prefix: its own client, no shared memory.
  const config = loadConfig(undefined, {
    KVC_ETCD_ENDPOINTS: sharedEtcdEndpoints().join(","),
    KVC_ETCD_PREFIX: h.prefix,
    KVC_NODE_TIMEOUT_MS: "300",
    KVC_LOG_LEVEL: "silent",
  });
  second = openRuntime(config);
  secondApp = createApp({
    ops: second.ops,
    auth: config.auth,
    bodyLimitBytes: 1 << 20,
    probeFailures: 3,
  });
  await h.createCluster("r", "c", await h.startNodes(2), 1);
});
afterAll(async () => {
  second.close();
  await h.close();
});

describe("two instances, one etcd", () => {
  it("keeps every acknowledged add-node of 40 concurrent requests and refuses the rest with 409, each a lost race", async () => {
    const before = await h.cluster("r", "c");
    // When each new version was committed (seen by a watch): what a refusal raced against.
    const committedAt: number[] = [];
    const watcher = await h.etcd.watch().key(h.runtime.store.keys.cluster("r", "c")).create();
    watcher.on("put", () => committedAt.push(Date.now()));
    const apps = [h.app, secondApp];
    const answers = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const sentAt = Date.now();
        const res = await apps[i % 2]!.request(
          `/api/v1/namespaces/r/clusters/c/shards/${i % 2}/nodes`,
          {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ addr: `127.0.0.1:${20000 + i}`, role: "slave" }),
          },
        );
        const body = (await res.json()) as { data?: string; error?: { message: string } };
        return { i, status: res.status, body, sentAt, answeredAt: Date.now() };
      }),
    );
    const created = answers.filter((a) => a.status === 201);
    const refused = answers.filter((a) => a.status !== 201);
    console.log(
      `40 concurrent add-node: ${created.length} created, ${refused.length} refused with 409`,
    );
    expect(refused.every((a) => a.status === 409)).toBe(true);
    // A refusal is a lost race: the compare-and-swap failed on each of its attempts, and each
    // failure means another change committed after that attempt read the cluster. So it was
    // outlived by at least that many commits, and at least that many requests succeeded.
    const attempts = DEFAULT_CAS_ATTEMPTS;
    for (const a of refused) {
      expect(a.body.error!.message).toMatch(
        new RegExp(`changed concurrently ${attempts} times in a row`),
      );
    }
    if (refused.length > 0) expect(created.length).toBeGreaterThanOrEqual(attempts);
    else expect(created.length).toBe(40);
    await eventually(() => committedAt.length >= created.length, 5_000);
    await watcher.cancel();
    for (const a of refused) {
      // Commits seen between its start and its answer (the watch may deliver a commit made
      // before the answer a little after it: 1 s of grace).
      const during = committedAt.filter((t) => t >= a.sentAt && t <= a.answeredAt + 1000);
      expect(during.length, `request ${a.i}`).toBeGreaterThanOrEqual(attempts);
    }

    const after = await h.cluster("r", "c");
    const ids = new Set(allNodes(after).map((n) => n.id));
    for (const a of created) expect(ids.has(a.body.data!)).toBe(true);
    expect(after.version).toBe(before.version + created.length);
    expect(allNodes(after)).toHaveLength(allNodes(before).length + created.length);
  });
});
