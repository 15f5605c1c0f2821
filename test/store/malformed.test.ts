import { describe, expect, it } from "vitest";
import { z } from "zod";
import { caught, freshStore, makeCluster } from "./helpers.js";

describe("bad data in etcd", () => {
  it("reads a cluster that is not JSON as invalid, naming it", async () => {
    const { store, etcd, prefix } = freshStore("bad");
    await store.createNamespace("n1");
    await etcd.put(`${prefix}/metadata/n1/cluster/broken`).value("{not json");
    const err = await caught(() => store.getCluster("n1", "broken"));
    expect(err.kind).toBe("invalid");
    expect(err.message).toContain("n1/broken");
    expect(err.message).toContain("not JSON");
  });

  it("reads a cluster that fails the schema as invalid, naming the field", async () => {
    const { store, etcd, prefix } = freshStore("bad");
    await store.createNamespace("n1");
    const json = JSON.parse(JSON.stringify(makeCluster("odd", [["10.0.0.1:6666"]])));
    json.shards[0].slot_ranges = ["0-16383"];
    json.shards[0].nodes[0].addr = "no-port";
    await etcd.put(`${prefix}/metadata/n1/cluster/odd`).value(JSON.stringify(json));
    const err = await caught(() => store.getCluster("n1", "odd"));
    expect(err.kind).toBe("invalid");
    expect(err.message).toContain("n1/odd");
    expect(err.message).toContain("shards.0.nodes.0.addr");
  });

  it("leaves the other clusters readable, writable and deletable", async () => {
    const { store, etcd, prefix } = freshStore("bad");
    await store.createNamespace("n1");
    await store.createCluster("n1", makeCluster("good", [["10.0.0.1:6666"]]));
    await etcd
      .put(`${prefix}/metadata/n1/cluster/broken`)
      .value('{"name":"broken","shards":[{"nodes":[{"addr":"10.0.0.5:6666"}]}]');

    expect(await store.listClusters("n1")).toEqual(["broken", "good"]);
    expect((await store.getCluster("n1", "good")).cluster.name).toBe("good");
    const updated = await store.updateCluster("n1", "good", (c) => {
      c.version++;
      c.shards[0]!.nodes[0]!.addr = "10.0.0.2:6666";
      return c;
    });
    expect(updated.cluster.version).toBe(2);
    await store.createCluster("n1", makeCluster("another", [["10.0.0.3:6666"]]));
    // a broken cluster cannot be updated, but it can be deleted
    expect((await caught(() => store.updateCluster("n1", "broken", (c) => c))).kind).toBe(
      "invalid",
    );
    await store.deleteCluster("n1", "broken");
    expect(await store.listClusters("n1")).toEqual(["another", "good"]);
  });

  it("still sees the addresses of a cluster that fails the schema", async () => {
    const { store, etcd, prefix } = freshStore("bad");
    await store.createNamespace("n1");
    await etcd
      .put(`${prefix}/metadata/n1/cluster/broken`)
      .value('{"name":"broken","version":"x","shards":[{"nodes":[{"addr":"10.0.0.5:6666"}]}]}');
    const err = await caught(() =>
      store.createCluster("n1", makeCluster("c1", [["10.0.0.5:6666"]])),
    );
    expect(err.kind).toBe("exists");
    expect(err.message).toContain("n1/broken");
  });

  it("reads a state document that fails its schema as invalid, naming the key", async () => {
    const { store, etcd } = freshStore("bad");
    const key = store.keys.probeState("n1", "c1");
    await etcd.put(key).value('{"failures":"many"}');
    const schema = z.object({ failures: z.number() });
    const err = await caught(() => store.getDoc(key, schema));
    expect(err.kind).toBe("invalid");
    expect(err.message).toContain(key);
    await etcd.put(key).value("][");
    expect((await caught(() => store.getDoc(key, schema))).kind).toBe("invalid");
    // A listing skips what does not decode, and the checked listing names it.
    const prefix = store.keys.clusterStatePrefix("n1", "c1");
    expect(await store.listDocs(prefix, schema)).toEqual([]);
    const checked = await store.listDocsChecked(prefix, schema);
    expect(checked.corrupt.map((c) => c.key)).toEqual([key]);
  });
});
