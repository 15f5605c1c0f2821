import { describe, expect, it } from "vitest";
import { caught, freshStore, makeCluster } from "./helpers.js";

describe("namespaces", () => {
  it("creates, lists and deletes namespaces", async () => {
    const { store, etcd, prefix } = freshStore("ns");
    expect(await store.listNamespaces()).toEqual([]);
    await store.createNamespace("beta");
    await store.createNamespace("alpha");
    expect(await store.listNamespaces()).toEqual(["alpha", "beta"]);
    expect(await store.namespaceExists("alpha")).toBe(true);
    expect(await store.getNamespace("alpha")).toBe("alpha");
    // upstream's layout: the namespace key holds the namespace name
    expect(await etcd.get(`${prefix}/metadata/alpha`).string()).toBe("alpha");

    await store.deleteNamespace("alpha");
    expect(await store.namespaceExists("alpha")).toBe(false);
    expect(await store.listNamespaces()).toEqual(["beta"]);
  });

  it("lists only namespaces, not the clusters under them", async () => {
    const { store } = freshStore("ns");
    await store.createNamespace("n1");
    await store.createCluster("n1", makeCluster("c1", [["10.0.0.1:6666"]]));
    expect(await store.listNamespaces()).toEqual(["n1"]);
  });

  it("refuses to create a namespace twice", async () => {
    const { store } = freshStore("ns");
    await store.createNamespace("n1");
    const err = await caught(() => store.createNamespace("n1"));
    expect(err.kind).toBe("exists");
    expect(err.message).toContain("n1");
  });

  it("refuses a namespace name that cannot be a key segment", async () => {
    const { store } = freshStore("ns");
    // Names are upstream's: only what would break a key or a URL is refused.
    for (const bad of ["", "a/b", "a\u0001b", ".."]) {
      expect((await caught(() => store.createNamespace(bad))).kind).toBe("invalid");
    }
    expect(await store.listNamespaces()).toEqual([]);
  });

  it("answers not_found for a missing namespace", async () => {
    const { store } = freshStore("ns");
    expect(await store.namespaceExists("nope")).toBe(false);
    expect((await caught(() => store.getNamespace("nope"))).kind).toBe("not_found");
    expect((await caught(() => store.deleteNamespace("nope"))).kind).toBe("not_found");
    expect((await caught(() => store.listClusters("nope"))).kind).toBe("not_found");
  });

  it("refuses to delete a namespace that still holds clusters", async () => {
    const { store } = freshStore("ns");
    await store.createNamespace("n1");
    await store.createCluster("n1", makeCluster("c1", [["10.0.0.1:6666"]]));
    const err = await caught(() => store.deleteNamespace("n1"));
    expect(err.kind).toBe("forbidden");
    expect(await store.namespaceExists("n1")).toBe(true);

    await store.deleteCluster("n1", "c1");
    await store.deleteNamespace("n1");
    expect(await store.namespaceExists("n1")).toBe(false);
  });

  it("never leaves a cluster without its namespace when create and delete race", async () => {
    const { store } = freshStore("ns");
    for (let round = 0; round < 20; round++) {
      const ns = `race${round}`;
      await store.createNamespace(ns);
      const [created, deleted] = await Promise.allSettled([
        store.createCluster(ns, makeCluster("c1", [[`10.1.${round}.1:6666`]])),
        store.deleteNamespace(ns),
      ]);
      // Exactly one wins; the loser gets the error that explains why.
      expect([created.status, deleted.status].sort()).toEqual(["fulfilled", "rejected"]);
      if (created.status === "fulfilled") {
        expect((deleted as PromiseRejectedResult).reason.kind).toBe("forbidden");
        expect(await store.namespaceExists(ns)).toBe(true);
      } else {
        expect(created.reason.kind).toBe("not_found");
        expect(await store.listAllClusters()).not.toContainEqual({ namespace: ns, cluster: "c1" });
      }
    }
  });
});
