import { describe, expect, it } from "vitest";
import { Store } from "../../lib/store/index.js";
import { uniquePrefix } from "../support/env.js";
import { makeCluster, node, sharedClient } from "./helpers.js";

describe("concurrent updates", () => {
  it("applies 50 racing updates from 5 clients exactly once each", async () => {
    const prefix = uniquePrefix("race");
    // Separate clients (separate connections) so the races are real races in etcd.
    const stores = Array.from({ length: 5 }, () => new Store(sharedClient(), prefix));
    const first = stores[0]!;
    await first.createNamespace("n1");
    await first.createCluster("n1", makeCluster("c1", [["10.9.0.1:6666"]]));

    let calls = 0;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        stores[i % stores.length]!.updateCluster(
          "n1",
          "c1",
          (c) => {
            calls++;
            c.version += 1;
            c.shards[0]!.nodes.push(node(`10.9.1.${i}:6666`));
            return c;
          },
          { maxAttempts: 200 },
        ),
      ),
    );

    const { cluster } = await first.getCluster("n1", "c1");
    expect(cluster.version).toBe(51);
    const addrs = cluster.shards[0]!.nodes.map((n) => n.addr);
    expect(addrs).toHaveLength(51);
    for (let i = 0; i < 50; i++) expect(addrs).toContain(`10.9.1.${i}:6666`);
    // Each committed update saw the version just before its own: none overwrote another.
    expect(new Set(results.map((r) => r.cluster.version)).size).toBe(50);
    for (const r of results) expect(r.previous.version).toBe(r.cluster.version - 1);
    expect(calls).toBeGreaterThan(50); // races were really lost and retried
    // Every added address was claimed by the cluster.
    for (let i = 0; i < 50; i++) {
      expect(await first.findAddressOwner(`10.9.1.${i}:6666`)).toEqual({
        namespace: "n1",
        cluster: "c1",
      });
    }
  });
});
