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

describe("concurrent claims of disjoint addresses", () => {
  it("lets 40 writers add disjoint addresses to 20 different clusters without a 409", async () => {
    const prefix = uniquePrefix("claims-race");
    const stores = Array.from({ length: 5 }, () => new Store(sharedClient(), prefix));
    const first = stores[0]!;
    await first.createNamespace("n1");
    // 20 clusters created at once: each claims addresses, so each loses the claims compare
    // to every other one that commits first, though none shares an address with another.
    const created = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        stores[i % stores.length]!.createCluster(
          "n1",
          makeCluster(`c${i}`, [[`10.8.${i}.1:6666`]]),
        ),
      ),
    );
    expect(created.filter((r) => r.status === "rejected").map((r) => String(r.reason))).toEqual([]);
    // Then two adds to each cluster at once (40 writers): the default 5 attempts each.
    const added = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        stores[i % stores.length]!.updateCluster("n1", `c${i % 20}`, (c) => {
          c.version += 1;
          c.shards[0]!.nodes.push(node(`10.7.${i}.1:6666`));
          return c;
        }),
      ),
    );
    expect(added.filter((r) => r.status === "rejected").map((r) => String(r.reason))).toEqual([]);
    for (let i = 0; i < 40; i++) {
      expect(await first.findAddressOwner(`10.7.${i}.1:6666`)).toEqual({
        namespace: "n1",
        cluster: `c${i % 20}`,
      });
    }
  });

  it("still refuses, with 409, the one of two racing writers that adds a taken address", async () => {
    const prefix = uniquePrefix("claims-race");
    const stores = Array.from({ length: 4 }, () => new Store(sharedClient(), prefix));
    await stores[0]!.createNamespace("n1");
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, (_, i) =>
        stores[i]!.createCluster(
          "n1",
          // c0 and c1 want 10.6.0.1; c2 and c3 want addresses of their own.
          makeCluster(`c${i}`, [[i < 2 ? "10.6.0.1:6666" : `10.6.${i}.1:6666`]]),
        ),
      ),
    );
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(refused).toHaveLength(1);
    expect(refused[0]!.reason.kind).toBe("exists");
    expect(results[2]!.status).toBe("fulfilled");
    expect(results[3]!.status).toBe("fulfilled");
  });
});
