import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../functions/app.js";
import { loadConfig } from "../../lib/config/index.js";
import { createLogger } from "../../lib/log.js";
import { masterOf } from "../../lib/model/index.js";
import { openRuntime, type Runtime } from "../../lib/runtime.js";
import { round } from "../probe/helpers.js";
import { sharedEtcdEndpoints } from "../support/env.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import type { SimNode } from "../support/kvrocks-sim/server.js";

const PASSWORD = "pa55-never-logged";
const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line));
    done();
  },
});

let h: Harness;
let other: Runtime;
let otherApp: ReturnType<typeof createApp>;
let nodes: SimNode[];

beforeAll(async () => {
  h = await startHarness({
    label: "obs",
    log: createLogger("info", sink),
    env: { KVC_PROBE_FAILURES: "2" },
  });
  nodes = await h.startNodes(6, { password: PASSWORD });
  await h.createCluster("obs", "c", nodes, 2, PASSWORD);
  const config = loadConfig(undefined, {
    KVC_ETCD_ENDPOINTS: sharedEtcdEndpoints().join(","),
    KVC_ETCD_PREFIX: h.prefix,
    KVC_LOG_LEVEL: "silent",
  });
  other = openRuntime(config);
  otherApp = createApp({
    ops: other.ops,
    auth: config.auth,
    bodyLimitBytes: 1 << 20,
    probeFailures: 2,
  });
});
afterAll(async () => {
  other.close();
  await h.close();
});

/** `name{labels} value` lines of a scrape, as a map from series to value. */
async function scrape(): Promise<Map<string, number>> {
  const text = await (await otherApp.request("/metrics")).text();
  const series = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#") || line.includes("_bucket")) continue;
    const at = line.lastIndexOf(" ");
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
}

describe("metrics and logs after a failover and a migration driven by probe rounds", () => {
  it("shows them on a different instance, and logs them without secrets", async () => {
    const before = await h.cluster("obs", "c");
    const dead = nodes.find((n) => n.addr === masterOf(before.shards[0]!)!.addr)!;
    // The probe has seen the master (one it never saw is not failed over on a guess).
    await round(h);
    await dead.stop();
    await round(h);
    await round(h);
    const afterFailover = await h.cluster("obs", "c");
    expect(afterFailover.version).toBe(before.version + 1);

    const started = await h.request("POST", "/api/v1/namespaces/obs/clusters/c/migrate", {
      target: 1,
      slots: ["0-99"],
      slot_only: false,
    });
    expect(started.status, started.text).toBe(202);
    await eventually(
      async () => {
        await round(h);
        const task = await h.request(
          "GET",
          `/api/v1/namespaces/obs/clusters/c/tasks/${started.body.data.task.id}`,
        );
        return task.body.data.task.state === "succeeded";
      },
      15_000,
      50,
    );
    // Versions the nodes report are what the probe last saw: one more round sees the last push.
    await round(h);
    const final = await h.cluster("obs", "c");
    const deadId = afterFailover.shards[0]!.nodes.find((n) => n.addr === dead.addr)!.id;

    const m = await scrape();
    const l = 'namespace="obs",cluster="c"';
    expect(m.get(`kvc_cluster_version{${l}}`)).toBe(final.version);
    expect(m.get(`kvc_cluster_shards{${l}}`)).toBe(3);
    expect(m.get(`kvc_cluster_nodes{${l},role="master"}`)).toBe(3);
    expect(m.get(`kvc_cluster_nodes{${l},role="slave"}`)).toBe(3);
    expect(m.get(`kvc_cluster_nodes_by_state{${l},state="down"}`)).toBe(1);
    expect(m.get(`kvc_cluster_nodes_by_state{${l},state="up"}`)).toBe(5);
    expect(
      m.get(`kvc_node_consecutive_failures{${l},shard="0",node="${deadId}",addr="${dead.addr}"}`),
    ).toBeGreaterThanOrEqual(2);
    expect(m.get(`kvc_cluster_nodes_behind{${l}}`)).toBe(0);
    expect(m.get(`kvc_cluster_nodes_ahead{${l}}`)).toBe(0);
    expect(m.get(`kvc_shard_slots{${l},shard="0"}`)).toBe(5461 - 100);
    expect(m.get(`kvc_shard_slots{${l},shard="1"}`)).toBe(5461 + 100);
    expect(m.get(`kvc_shard_migrating_slots{${l},shard="0"}`)).toBe(0);
    expect(m.get(`kvc_cluster_tasks{${l},state="succeeded"}`)).toBe(1);
    expect(m.get(`kvc_cluster_tasks{${l},state="running"}`)).toBe(0);
    expect(m.get(`kvc_cluster_failovers_total{${l}}`)).toBe(1);
    expect(m.get(`kvc_probe_last_round_age_seconds{${l}}`)).toBeLessThan(60);
    expect(m.get(`kvc_cluster_safe_mode{${l}}`)).toBe(0);
    expect(m.get("kvc_clusters_unreadable")).toBe(0);
    // Request metrics are this instance's own: the scrape itself is counted by route pattern.
    await otherApp.request("/api/v1/namespaces/obs/clusters/c");
    const again = await scrape();
    expect(
      again.get(
        'kvc_http_requests_total{route="/api/v1/namespaces/:ns/clusters/:cluster",method="GET",status="200"}',
      ),
    ).toBe(1);

    const failover = lines.find((x) => x.msg === "failover: promoted a replica");
    expect(failover).toMatchObject({
      namespace: "obs",
      cluster: "c",
      shard: 0,
      old_master_addr: dead.addr,
    });
    expect(lines.some((x) => String(x.msg).startsWith("migration:"))).toBe(true);
    expect(
      lines.some((x) => x.msg === "push: node missed the topology" && x.addr === dead.addr),
    ).toBe(true);
    expect(JSON.stringify(lines)).not.toContain(PASSWORD);
  }, 60_000);

  it("never logs a password or token even when handed one", () => {
    const captured: string[] = [];
    const log = createLogger(
      "info",
      new Writable({
        write(chunk, _e, done) {
          captured.push(chunk.toString());
          done();
        },
      }),
    );
    log.info(
      {
        password: "p1",
        node: { password: "p2" },
        nodes: [{ password: "p3" }],
        authorization: "Bearer t",
      },
      "x",
    );
    // The line was written, with each secret's place censored.
    const written = captured
      .join("")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({
      msg: "x",
      password: "******",
      node: { password: "******" },
      nodes: [{ password: "******" }],
      authorization: "******",
    });
    expect(captured.join("")).not.toMatch(/p1|p2|p3|Bearer t/);
  });
});
