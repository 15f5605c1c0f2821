// /metrics reads every node's INFO at scrape time: per-node gauges labelled with where the
// node sits, a dead node as kvc_node_up 0 with no made-up figures.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../functions/app.js";
import { loadConfig } from "../../lib/config/index.js";
import { withNode } from "../../lib/kvrocks/index.js";
import { openRuntime } from "../../lib/runtime.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import type { SimNode } from "../support/kvrocks-sim/server.js";

let h: Harness;
let nodes: SimNode[];

beforeAll(async () => {
  h = await startHarness({ label: "nodemetrics" });
  nodes = await h.startNodes(4, { password: "pw" });
  await h.createCluster("nm", "c", nodes, 2, "pw");
});
afterAll(async () => h?.close());

/** connected_clients as the node reports it, counting the connection that asks. */
async function clientsOf(addr: string): Promise<number> {
  const info = await withNode(addr, {}, (c) => c.info());
  return info.connectedClients;
}

/** Series of one metric: labels object and value. */
async function series(name: string): Promise<{ labels: Record<string, string>; value: number }[]> {
  const res = await h.app.request("/metrics");
  expect(res.status).toBe(200);
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of (await res.text()).split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.lastIndexOf("}"));
    const labels = Object.fromEntries(
      [...labelText.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    out.push({ labels, value: Number(line.slice(line.lastIndexOf(" ") + 1)) });
  }
  return out;
}

describe("per-node gauges in /metrics", () => {
  it("labels every node with namespace, cluster, shard, node, addr and role", async () => {
    const cluster = await h.cluster("nm", "c");
    const up = await series("kvc_node_up");
    expect(up.map((s) => s.labels).sort((a, b) => a.addr!.localeCompare(b.addr!))).toEqual(
      cluster.shards
        .flatMap((shard, i) =>
          shard.nodes.map((n) => ({
            namespace: "nm",
            cluster: "c",
            shard: String(i),
            node: n.id,
            addr: n.addr,
            role: n.role,
          })),
        )
        .sort((a, b) => a.addr.localeCompare(b.addr)),
    );
    expect(up.every((s) => s.value === 1)).toBe(true);
    for (const name of [
      "kvc_node_used_memory_bytes",
      "kvc_node_keys",
      "kvc_node_ops_per_second",
      "kvc_node_connected_clients",
      "kvc_node_replication_lag",
    ]) {
      expect(await series(name), name).toHaveLength(4);
    }
  });

  it("shows the keys a master holds after writes", async () => {
    const cluster = await h.cluster("nm", "c");
    const masterAddr = cluster.shards[0]!.nodes.find((n) => n.role === "master")!.addr;
    const master = nodes.find((n) => n.addr === masterAddr)!;
    let written = 0;
    for (let i = 0; written < 100; i++) {
      try {
        master.write(`m:${i}`, "v");
        written++;
      } catch {}
    }
    const keys = (await series("kvc_node_keys")).find((s) => s.labels.addr === masterAddr);
    expect(keys?.value).toBe(100);
  });

  it("shows a hung node as down, without figures, and still answers for the others", async () => {
    const hung = nodes[1]!;
    hung.setFault({ hang: true });
    try {
      const up = await series("kvc_node_up");
      expect(up.find((s) => s.labels.addr === hung.addr)?.value).toBe(0);
      expect(up.filter((s) => s.value === 1)).toHaveLength(3);
      const keys = await series("kvc_node_keys");
      expect(keys.map((s) => s.labels.addr)).not.toContain(hung.addr);
      expect(keys).toHaveLength(3);
    } finally {
      hung.setFault({ hang: false });
    }
  });

  it("drops the series of a deleted cluster's nodes", async () => {
    const other = await h.startNodes(1);
    await h.createCluster("nm", "gone", other, 1);
    expect((await series("kvc_node_up")).some((s) => s.labels.cluster === "gone")).toBe(true);
    // The scrape keeps a connection to the node between scrapes...
    expect(await clientsOf(other[0]!.addr)).toBe(2);
    expect((await h.request("DELETE", "/api/v1/namespaces/nm/clusters/gone")).status).toBe(204);
    expect((await series("kvc_node_up")).some((s) => s.labels.cluster === "gone")).toBe(false);
    // ...and lets it go once the node is in no cluster.
    await eventually(async () => (await clientsOf(other[0]!.addr)) === 1);
  });
});

describe("/metrics without etcd", () => {
  it("still answers, with kvc_etcd_up 0 and no cluster series", async () => {
    const config = loadConfig(undefined, {
      KVC_ETCD_ENDPOINTS: "127.0.0.1:1",
      KVC_ETCD_TIMEOUT_MS: "300",
      KVC_LOG_LEVEL: "silent",
    });
    const runtime = openRuntime(config);
    try {
      const app = createApp({
        ops: runtime.ops,
        auth: config.auth,
        bodyLimitBytes: 1 << 20,
        probeFailures: 3,
      });
      const res = await app.request("/metrics");
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toMatch(/^kvc_etcd_up 0$/m);
      expect(text).not.toMatch(/^kvc_node_up\{/m);
      expect(text).not.toMatch(/^kvc_cluster_version\{/m);
    } finally {
      runtime.close();
    }
  });
});
