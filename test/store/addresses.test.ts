import { describe, expect, it } from "vitest";
import { clusterToJson } from "../../lib/model/index.js";
import { Store } from "../../lib/store/index.js";
import { caught, freshStore, makeCluster, node } from "./helpers.js";

const addNode = (addr: string) => (c: ReturnType<typeof makeCluster>) => {
  c.version++;
  c.shards[0]!.nodes.push(node(addr));
  return c;
};

describe("address uniqueness across clusters", () => {
  it("refuses a cluster whose address another cluster uses, naming the owner", async () => {
    const { store } = freshStore("addr");
    await store.createNamespace("n1");
    await store.createNamespace("n2");
    await store.createCluster("n1", makeCluster("c1", [["10.0.0.1:6666", "10.0.0.2:6666"]]));

    const err = await caught(() =>
      store.createCluster("n2", makeCluster("c2", [["10.0.0.9:6666", "10.0.0.2:6666"]])),
    );
    expect(err.kind).toBe("exists");
    expect(err.message).toBe("address 10.0.0.2:6666 is already used by n1/c1");
    expect(await store.listClusters("n2")).toEqual([]);
    expect(await store.findAddressOwner("10.0.0.2:6666")).toEqual({
      namespace: "n1",
      cluster: "c1",
    });
    expect(await store.findAddressOwner("10.0.0.9:6666")).toBeNull();
  });

  it("refuses an update that adds an address another cluster uses", async () => {
    const { store } = freshStore("addr");
    await store.createNamespace("n1");
    await store.createCluster("n1", makeCluster("c1", [["10.0.0.1:6666"]]));
    await store.createCluster("n1", makeCluster("c2", [["10.0.0.2:6666"]]));
    const err = await caught(() => store.updateCluster("n1", "c2", addNode("10.0.0.1:6666")));
    expect(err.kind).toBe("exists");
    expect(err.message).toContain("n1/c1");
  });

  it("frees a cluster's addresses when it is deleted", async () => {
    const { store } = freshStore("addr");
    await store.createNamespace("n1");
    await store.createCluster("n1", makeCluster("c1", [["10.0.0.1:6666"]]));
    await store.deleteCluster("n1", "c1");
    expect(await store.findAddressOwner("10.0.0.1:6666")).toBeNull();
    await store.createCluster("n1", makeCluster("c2", [["10.0.0.1:6666"]]));
    expect(await store.findAddressOwner("10.0.0.1:6666")).toEqual({
      namespace: "n1",
      cluster: "c2",
    });
  });

  it("frees an address removed from a cluster and claims the ones added", async () => {
    const { store, etcd } = freshStore("addr");
    await store.createNamespace("n1");
    await store.createCluster("n1", makeCluster("c1", [["10.0.0.1:6666", "10.0.0.2:6666"]]));
    await store.createCluster("n1", makeCluster("c2", [["10.0.0.3:6666"]]));

    await store.updateCluster("n1", "c1", (c) => {
      c.version++;
      c.shards[0]!.nodes = c.shards[0]!.nodes.filter((n) => n.addr !== "10.0.0.2:6666");
      c.shards[0]!.nodes.push(node("10.0.0.4:6666"));
      return c;
    });
    expect(JSON.parse((await etcd.get(store.keys.claims("n1", "c1")).string()) ?? "null")).toEqual([
      "10.0.0.1:6666",
      "10.0.0.4:6666",
    ]);

    await store.updateCluster("n1", "c2", addNode("10.0.0.2:6666"));
    expect(await store.findAddressOwner("10.0.0.2:6666")).toEqual({
      namespace: "n1",
      cluster: "c2",
    });
    expect(
      (await caught(() => store.updateCluster("n1", "c2", addNode("10.0.0.4:6666")))).kind,
    ).toBe("exists");
  });

  it("lets exactly one of two racing clusters claim an address", async () => {
    const { store } = freshStore("addr");
    await store.createNamespace("n1");
    for (let round = 0; round < 10; round++) {
      const addr = `10.2.${round}.1:6666`;
      const results = await Promise.allSettled([
        store.createCluster("n1", makeCluster(`a${round}`, [[addr]])),
        store.createCluster("n1", makeCluster(`b${round}`, [[addr]])),
      ]);
      const won = results.filter((r) => r.status === "fulfilled");
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(won).toHaveLength(1);
      expect(lost[0]?.reason.kind).toBe("exists");
    }
    expect(await store.listClusters("n1")).toHaveLength(10);
  });

  it("sees addresses of clusters written without claims, as upstream writes them", async () => {
    const { store, etcd } = freshStore("addr");
    await store.createNamespace("n1");
    const upstream = makeCluster("legacy", [["10.0.0.7:6666"]]);
    await etcd
      .put(store.keys.cluster("n1", "legacy"))
      .value(JSON.stringify(clusterToJson(upstream)));

    expect(await store.findAddressOwner("10.0.0.7:6666")).toEqual({
      namespace: "n1",
      cluster: "legacy",
    });
    const err = await caught(() =>
      store.createCluster("n1", makeCluster("c1", [["10.0.0.7:6666"]])),
    );
    expect(err.kind).toBe("exists");
    // the legacy cluster itself stays updatable and deletable without claims
    await store.updateCluster("n1", "legacy", addNode("10.0.0.8:6666"));
    await store.deleteCluster("n1", "legacy");
    expect(await store.findAddressOwner("10.0.0.7:6666")).toBeNull();
  });

  it("ignores an orphan claims document that no cluster backs", async () => {
    const { store, etcd } = freshStore("addr");
    await store.createNamespace("n1");
    await etcd.put(store.keys.claims("n1", "gone")).value(JSON.stringify(["10.0.0.1:6666"]));
    expect(await store.findAddressOwner("10.0.0.1:6666")).toBeNull();
    await store.createCluster("n1", makeCluster("c1", [["10.0.0.1:6666"]]));
    expect(await etcd.get(store.keys.claims("n1", "c1")).string()).toBe('["10.0.0.1:6666"]');
  });

  it("lets exactly one of two racing updates add an address", async () => {
    const { store } = freshStore("addr");
    await store.createNamespace("n1");
    for (let round = 0; round < 10; round++) {
      const addr = `10.3.${round}.1:6666`;
      await store.createCluster("n1", makeCluster(`x${round}`, [[`10.4.${round}.1:6666`]]));
      await store.createCluster("n1", makeCluster(`y${round}`, [[`10.5.${round}.1:6666`]]));
      const results = await Promise.allSettled([
        store.updateCluster("n1", `x${round}`, addNode(addr)),
        store.updateCluster("n1", `y${round}`, addNode(addr)),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const lost = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(lost?.reason.kind).toBe("exists");
    }
  });

  it("keeps claims of a cluster far over etcd's 128 operations per transaction", async () => {
    const { store } = freshStore("addr");
    await store.createNamespace("n1");
    const addrs = (base: number) =>
      Array.from({ length: 150 }, (_, i) => [`10.9.${base + Math.floor(i / 100)}.${i % 100}:6666`]);
    await store.createCluster("n1", makeCluster("big", addrs(0)));
    await store.createCluster("n1", makeCluster("big2", addrs(10)));
    const err = await caught(() => store.createCluster("n1", makeCluster("dup", addrs(0))));
    expect(err.kind).toBe("exists");
    await store.deleteCluster("n1", "big");
    await store.createCluster("n1", makeCluster("dup", addrs(0)));
    expect(await store.findAddressOwner("10.9.0.7:6666")).toEqual({
      namespace: "n1",
      cluster: "dup",
    });
  });
});

describe("addresses compared as nodes, not strings", () => {
  // A resolver of our own: what each name resolves to is part of the test.
  const hosts: Record<string, string[]> = {
    "db-1.internal": ["10.0.0.1"],
    "db-2.internal": ["10.0.0.2", "fd00::2"],
  };
  const resolve = async (host: string) => {
    const ips = hosts[host];
    if (!ips) throw new Error(`${host}: not found`);
    return ips;
  };
  const storeWithNames = () => {
    const { etcd, prefix } = freshStore("alias");
    return new Store(etcd, prefix, { resolve });
  };

  it("refuses other spellings of a stored address, naming the owner and its spelling", async () => {
    const store = storeWithNames();
    await store.createNamespace("n1");
    await store.createCluster("n1", makeCluster("c1", [["10.0.0.1:6379", "db-2.internal:6379"]]));
    for (const alias of [
      "10.0.0.1:06379", // zero-padded port
      "10.1:6379", // inet_aton's short form of 10.0.0.1
      "0x0a.0.0.1:6379", // hex
      "db-1.internal:6379", // a name that resolves to the stored IP
      "DB-2.Internal:6379", // the stored name in other case
      "10.0.0.2:6379", // an IP the stored name resolves to
    ]) {
      const err = await caught(() => store.createCluster("n1", makeCluster("c2", [[alias]])));
      expect(err.kind, alias).toBe("exists");
      expect(err.message, alias).toContain("n1/c1");
    }
    expect(await store.findAddressOwner("10.1:6379")).toEqual({ namespace: "n1", cluster: "c1" });
    // Another port, or a name that does not resolve, is another node.
    await store.createCluster("n1", makeCluster("c3", [["10.0.0.1:6380", "db-9.internal:6379"]]));
  });

  it("reads a stored cluster in another spelling as the same addresses, and writes it canonical", async () => {
    const { etcd, prefix } = freshStore("alias");
    const store = new Store(etcd, prefix, { resolve });
    await store.createNamespace("n1");
    const legacy = clusterToJson(makeCluster("legacy", [["10.0.0.7:6666"]]));
    legacy.shards[0]!.nodes[0]!.addr = "10.0.0.7:06666";
    await etcd.put(store.keys.cluster("n1", "legacy")).value(JSON.stringify(legacy));
    expect((await store.getCluster("n1", "legacy")).cluster.shards[0]!.nodes[0]!.addr).toBe(
      "10.0.0.7:6666",
    );
    expect(
      (await caught(() => store.createCluster("n1", makeCluster("c1", [["10.0.0.7:6666"]])))).kind,
    ).toBe("exists");
    await store.updateCluster("n1", "legacy", (c) => ({ ...c, version: c.version + 1 }));
    expect(await etcd.get(store.keys.cluster("n1", "legacy")).string()).toContain(
      '"addr":"10.0.0.7:6666"',
    );
  });

  it("refuses adding a node the cluster already has under another spelling", async () => {
    const store = storeWithNames();
    await store.createNamespace("n1");
    await store.createCluster("n1", makeCluster("c1", [["10.0.0.1:6379"]]));
    const err = await caught(() => store.updateCluster("n1", "c1", addNode("db-1.internal:6379")));
    expect(err.kind).toBe("exists");
    expect(err.message).toBe(
      "address db-1.internal:6379 is the same node as 10.0.0.1:6379, already in the cluster",
    );
  });
});
