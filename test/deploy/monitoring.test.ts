// deploy/monitoring: the alert rules pass promtool, and every metric the rules and the
// dashboard use is in a real /metrics answer (a cluster with a replica, tasks and a probe round).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { round } from "../probe/helpers.js";
import { type Harness, startHarness } from "../support/harness.js";
import { requireTool, TOOLS } from "../support/tools.js";
import { exec, read } from "./helpers.js";

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string };
}
interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
}

const rules = (parseYaml(read("deploy/monitoring/alerts.yaml")) as { groups: { rules: Rule[] }[] })
  .groups[0]!.rules;
const dashboard = JSON.parse(read("deploy/monitoring/grafana-dashboard.json")) as {
  panels: Panel[];
  templating: { list: { query: unknown }[] };
};

/** Metric names in a PromQL expression: ours start kvc_; `up` is Prometheus's own. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\bkvc_[a-z_]+\b/g)].map((m) => m[0]);
}

let h: Harness;
let scrape: string;

beforeAll(async () => {
  h = await startHarness({ label: "monitoring" });
  const nodes = await h.startNodes(4);
  await h.createCluster("mon", "c", nodes, 2);
  const moved = await h.request("POST", "/api/v1/namespaces/mon/clusters/c/migrate", {
    target: 1,
    slot: "0-10",
  });
  expect(moved.status).toBeLessThan(300);
  await round(h);
  await h.app.request("/healthz");
  scrape = await (await h.app.request("/metrics")).text();
});
afterAll(async () => h?.close());

describe("deploy/monitoring", () => {
  it("has the alerts docs/monitoring.md promises, each with a severity and a summary", () => {
    expect(rules.map((r) => r.alert)).toEqual([
      "KvrocksMasterDown",
      "KvrocksNodeUnmanageable",
      "KvrocksFailoverSuspended",
      "KvrocksNodeBehindTopology",
      "KvrocksNodeAheadOfTopology",
      "KvrocksMigrationFailed",
      "KvrocksMigrationSlow",
      "KvrocksReplicationLag",
      "KvrocksProbeStalled",
      "KvrocksControllerEtcdUnreachable",
      "KvrocksControllerDown",
    ]);
    for (const r of rules) {
      expect(["critical", "warning"], r.alert).toContain(r.labels.severity);
      expect(r.annotations.summary, r.alert).not.toBe("");
    }
    expect(rules.find((r) => r.alert === "KvrocksMigrationSlow")?.for).toBe("30m");
    expect(rules.find((r) => r.alert === "KvrocksNodeBehindTopology")?.for).toBe("1m");
    // The doc's alert table names exactly these rules, in this order.
    const documented = [...read("docs/monitoring.md").matchAll(/^\| `(Kvrocks\w+)`/gm)].map(
      (m) => m[1],
    );
    expect(documented).toEqual(rules.map((r) => r.alert));
  });

  it("passes promtool check rules", async (ctx) => {
    const promtool = requireTool(ctx, TOOLS.promtool);
    const out = await exec(promtool, ["check", "rules", "deploy/monitoring/alerts.yaml"], {
      timeoutMs: 30_000,
    });
    expect(out.stdout + out.stderr).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(out.code).toBe(0);
  });

  it("uses only metrics a real /metrics answer has, and has series for the node gauges", () => {
    const declared = new Set(
      [...scrape.matchAll(/^# TYPE (\w+) (\w+)$/gm)].flatMap(([, name, type]) =>
        type === "histogram" ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!],
      ),
    );
    const exprs = [
      ...rules.map((r) => r.expr),
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
      ...dashboard.templating.list.map((v) => JSON.stringify(v.query)),
    ];
    const used = new Set(exprs.flatMap(metricNames));
    expect(used.size).toBeGreaterThan(15);
    for (const name of used) expect(declared, name).toContain(name);
    for (const name of [
      "kvc_node_up",
      "kvc_node_used_memory_bytes",
      "kvc_node_keys",
      "kvc_node_ops_per_second",
      "kvc_node_connected_clients",
      "kvc_node_replication_lag",
      "kvc_probe_last_round_age_seconds",
      "kvc_etcd_up",
    ]) {
      expect(scrape, name).toMatch(new RegExp(`^${name}(\\{[^}]*\\})? \\d`, "m"));
    }
  });

  it("gives every dashboard panel a query, and every query a datasource variable", () => {
    const graphs = dashboard.panels.filter((p) => p.type !== "row");
    expect(graphs.length).toBeGreaterThan(10);
    for (const p of graphs) expect(p.targets?.length, p.title).toBeGreaterThan(0);
    expect(JSON.stringify(dashboard)).not.toMatch(/"uid":\s*"(?!\$\{datasource\}|kvrocks)/);
  });
});
