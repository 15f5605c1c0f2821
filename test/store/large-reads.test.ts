// Reads of a whole prefix (every cluster: the claims scan, /metrics) go page by page, so no
// answer hits gRPC's 4 MiB receive limit, which one range read of ~28k nodes did.
import type { Etcd3, IRangeRequest } from "etcd3";
import { afterEach, describe, expect, it } from "vitest";
import { clusterToJson } from "../../lib/model/index.js";
import { collectMetrics } from "../../lib/ops/metrics.js";
import { Store } from "../../lib/store/index.js";
import { caught, freshStore, makeCluster, sharedClient } from "./helpers.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0)) await clean();
});

/** Records the `limit` of every range read of a prefix `etcd` sends, and its answer's size. */
function recordRanges(etcd: Etcd3): { limits: (number | undefined)[]; bytes: number[] } {
  const limits: (number | undefined)[] = [];
  const bytes: number[] = [];
  const range = etcd.kv.range.bind(etcd.kv);
  etcd.kv.range = async (req: IRangeRequest, options?: Parameters<typeof range>[1]) => {
    if (!req.range_end || req.count_only) return range(req, options);
    limits.push(req.limit === undefined ? undefined : Number(req.limit));
    const res = await range(req, options);
    bytes.push(res.kvs.reduce((sum, kv) => sum + kv.key.length + kv.value.length, 0));
    return res;
  };
  return { limits, bytes };
}

describe("reads of a whole prefix", () => {
  it("reads 3 keys a page, and sees every cluster, namespace and address owner", async () => {
    const { prefix } = freshStore("pages");
    const etcd = sharedClient();
    const { limits } = recordRanges(etcd);
    const store = new Store(etcd, prefix, { pageKeys: 3 });
    await store.createNamespace("n1");
    await store.createNamespace("n2");
    for (let i = 0; i < 10; i++) {
      await store.createCluster(i < 5 ? "n1" : "n2", makeCluster(`c${i}`, [[`10.1.${i}.1:6666`]]));
    }
    expect(await store.listNamespaces()).toEqual(["n1", "n2"]);
    expect(await store.listAllClusters()).toHaveLength(10);
    expect((await store.readAllClusters()).map((c) => c.cluster).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `c${i}`).sort(),
    );
    // The last cluster written is on the last page of the scan.
    expect(await store.findAddressOwner("10.1.9.1:6666")).toEqual({
      namespace: "n2",
      cluster: "c9",
    });
    const err = await caught(() =>
      store.createCluster("n1", makeCluster("dup", [["10.1.9.1:6666"]])),
    );
    expect(err.kind).toBe("exists");
    expect(err.message).toContain("n2/c9");
    expect(limits.length).toBeGreaterThan(0);
    expect(limits.every((l) => l !== undefined && l <= 3)).toBe(true);
  });

  it("reads more than gRPC's 4 MiB: 36 clusters of 1,000 nodes, for the claims and /metrics", async () => {
    const { store, etcd, prefix } = freshStore("big-read");
    cleanups.push(async () => etcd.delete().prefix(prefix));
    const { bytes: pages } = recordRanges(etcd);
    await store.createNamespace("n1");
    // Written as upstream's controller would (no claims): the size is what matters here.
    let bytes = 0;
    for (let c = 0; c < 36; c++) {
      const shards = Array.from({ length: 100 }, (_, s) =>
        Array.from({ length: 10 }, (_, n) => `127.0.0.2:${10000 + c * 1000 + s * 10 + n}`),
      );
      const json = JSON.stringify(clusterToJson(makeCluster(`big${c}`, shards)));
      bytes += json.length;
      await etcd.put(store.keys.cluster("n1", `big${c}`)).value(json);
    }
    expect(bytes).toBeGreaterThan(4 * 1024 * 1024);

    expect(await store.readAllClusters()).toHaveLength(36);
    const metrics = await collectMetrics(store, Date.now());
    expect(metrics.clusters).toHaveLength(36);
    expect(metrics.unreadable).toEqual([]);
    expect(await store.findAddressOwner("127.0.0.2:45999")).toEqual({
      namespace: "n1",
      cluster: "big35",
    });
    const err = await caught(() =>
      store.createCluster("n1", makeCluster("dup", [["127.0.0.2:45999"]])),
    );
    expect(err.kind).toBe("exists");
    // Every answer in pages well under gRPC's default 4 MiB.
    expect(Math.max(...pages)).toBeLessThan(3 * 1024 * 1024);
  });
});
