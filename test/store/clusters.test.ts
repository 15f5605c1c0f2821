import { describe, expect, it } from "vitest";
import { z } from "zod";
import { clusterToJson } from "../../lib/model/index.js";
import { caught, freshStore, makeCluster, node } from "./helpers.js";

const anyJson = z.unknown();

describe("clusters", () => {
  it("creates a cluster and reads it back with its revision", async () => {
    const { store, etcd, prefix } = freshStore("cl");
    await store.createNamespace("n1");
    const cluster = makeCluster("c1", [["10.0.0.1:6666", "10.0.0.2:6666"], ["10.0.0.3:6666"]]);
    const created = await store.createCluster("n1", cluster);
    expect(created.cluster).toEqual(cluster);

    const read = await store.getCluster("n1", "c1");
    expect(read.cluster).toEqual(cluster);
    expect(read.revision).toBe(created.revision);
    expect(typeof read.revision).toBe("string");
    // stored in upstream's key and JSON format
    const raw = await etcd.get(`${prefix}/metadata/n1/cluster/c1`).json();
    expect(raw).toEqual(clusterToJson(cluster));
    expect(await store.listClusters("n1")).toEqual(["c1"]);
    expect(await store.listAllClusters()).toEqual([{ namespace: "n1", cluster: "c1" }]);
  });

  it("lists an empty namespace as no clusters", async () => {
    const { store } = freshStore("cl");
    await store.createNamespace("n1");
    expect(await store.listClusters("n1")).toEqual([]);
  });

  it("refuses to create a cluster twice or in a missing namespace", async () => {
    const { store } = freshStore("cl");
    await store.createNamespace("n1");
    await store.createCluster("n1", makeCluster("c1", [["10.0.0.1:6666"]]));
    const twice = await caught(() =>
      store.createCluster("n1", makeCluster("c1", [["10.0.0.9:6666"]])),
    );
    expect(twice.kind).toBe("exists");
    const orphan = await caught(() =>
      store.createCluster("nope", makeCluster("c2", [["10.0.0.8:6666"]])),
    );
    expect(orphan.kind).toBe("not_found");
    expect(orphan.message).toContain("nope");
  });

  it("refuses to store a cluster that breaks an invariant", async () => {
    const { store } = freshStore("cl");
    await store.createNamespace("n1");
    const noMaster = makeCluster("c1", [["10.0.0.1:6666", "10.0.0.2:6666"]]);
    noMaster.shards[0]!.nodes[0]!.role = "slave";
    expect((await caught(() => store.createCluster("n1", noMaster))).kind).toBe("invalid");
    expect(await store.listClusters("n1")).toEqual([]);
  });

  it("answers not_found for a missing cluster", async () => {
    const { store } = freshStore("cl");
    await store.createNamespace("n1");
    expect((await caught(() => store.getCluster("n1", "c9"))).kind).toBe("not_found");
    expect((await caught(() => store.deleteCluster("n1", "c9"))).kind).toBe("not_found");
    const update = await caught(() => store.updateCluster("n1", "c9", (c) => c));
    expect(update.kind).toBe("not_found");
  });

  it("updates with compare-and-swap and returns the previous cluster", async () => {
    const { store } = freshStore("cl");
    await store.createNamespace("n1");
    const created = await store.createCluster("n1", makeCluster("c1", [["10.0.0.1:6666"]]));
    const updated = await store.updateCluster("n1", "c1", (c) => {
      c.version += 1;
      c.shards[0]!.nodes.push(node("10.0.0.2:6666"));
      return c;
    });
    expect(updated.previous).toEqual(created.cluster);
    expect(updated.cluster.version).toBe(2);
    expect(updated.cluster.shards[0]!.nodes).toHaveLength(2);
    expect(BigInt(updated.revision)).toBeGreaterThan(BigInt(created.revision));
    expect(await store.getCluster("n1", "c1")).toEqual({
      cluster: updated.cluster,
      revision: updated.revision,
    });
  });

  it("accepts an async update function", async () => {
    const { store } = freshStore("cl");
    await store.createNamespace("n1");
    await store.createCluster("n1", makeCluster("c1", [["10.0.0.1:6666"]]));
    const updated = await store.updateCluster("n1", "c1", async (c) => {
      await new Promise((r) => setTimeout(r, 5));
      return { ...c, version: c.version + 1 };
    });
    expect(updated.cluster.version).toBe(2);
  });

  it("aborts an update with the error its function throws, writing nothing", async () => {
    const { store } = freshStore("cl");
    await store.createNamespace("n1");
    const created = await store.createCluster("n1", makeCluster("c1", [["10.0.0.1:6666"]]));
    const boom = new Error("computed nothing");
    await expect(store.updateCluster("n1", "c1", () => Promise.reject(boom))).rejects.toBe(boom);
    expect((await store.getCluster("n1", "c1")).revision).toBe(created.revision);
  });

  it("refuses an update that breaks an invariant or renames the cluster", async () => {
    const { store } = freshStore("cl");
    await store.createNamespace("n1");
    const created = await store.createCluster("n1", makeCluster("c1", [["10.0.0.1:6666"]]));
    const twoMasters = await caught(() =>
      store.updateCluster("n1", "c1", (c) => {
        c.shards[0]!.nodes.push(node("10.0.0.2:6666", "master"));
        return c;
      }),
    );
    expect(twoMasters.kind).toBe("invalid");
    expect(twoMasters.message).toContain("masters");
    const renamed = await caught(() =>
      store.updateCluster("n1", "c1", (c) => ({ ...c, name: "c2" })),
    );
    expect(renamed.kind).toBe("invalid");
    expect((await store.getCluster("n1", "c1")).revision).toBe(created.revision);
  });

  it("answers conflict when every attempt loses its race", async () => {
    const { store, etcd, prefix } = freshStore("cl");
    await store.createNamespace("n1");
    await store.createCluster("n1", makeCluster("c1", [["10.0.0.1:6666"]]));
    let calls = 0;
    const err = await caught(() =>
      store.updateCluster(
        "n1",
        "c1",
        async (c) => {
          calls++;
          // Someone else writes between our read and our commit, every time.
          await etcd
            .put(`${prefix}/metadata/n1/cluster/c1`)
            .value(JSON.stringify(clusterToJson(c)));
          return { ...c, version: c.version + 1 };
        },
        { maxAttempts: 3 },
      ),
    );
    expect(err.kind).toBe("conflict");
    expect(calls).toBe(3);
    expect((await store.getCluster("n1", "c1")).cluster.version).toBe(1);
  });

  it("deletes a cluster with its state documents", async () => {
    const { store } = freshStore("cl");
    await store.createNamespace("n1");
    await store.createCluster("n1", makeCluster("c1", [["10.0.0.1:6666"]]));
    await store.createCluster("n1", makeCluster("c10", [["10.0.0.2:6666"]]));
    await store.putDoc(store.keys.probeState("n1", "c1"), { failures: 1 });
    await store.putDoc(store.keys.task("n1", "c1", "t1"), { state: "queued" });
    await store.putDoc(store.keys.probeState("n1", "c10"), { failures: 2 });

    await store.deleteCluster("n1", "c1");
    expect(await store.listClusters("n1")).toEqual(["c10"]);
    expect(await store.getDoc(store.keys.probeState("n1", "c1"), anyJson)).toBeNull();
    expect(await store.getDoc(store.keys.task("n1", "c1", "t1"), anyJson)).toBeNull();
    // a cluster whose name starts with the deleted one's keeps its state
    expect((await store.getDoc(store.keys.probeState("n1", "c10"), anyJson))?.value).toEqual({
      failures: 2,
    });
  });
});
