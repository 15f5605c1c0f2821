// GET /metrics: request metrics of this instance, cluster metrics read from etcd at scrape
// time (so any instance shows the same numbers for the clusters), and each node's INFO.
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { Gauge } from "prom-client";
import type { NodePool } from "../lib/kvrocks/index.js";
import type { OpsDeps } from "../lib/ops/index.js";
import { type ClusterMetrics, collectMetrics, type MetricsSnapshot } from "../lib/ops/metrics.js";
import { type NodeStats, readClustersStats } from "../lib/ops/stats.js";

const CL = ["namespace", "cluster"] as const;
const NODE = [...CL, "shard", "node", "addr", "role"] as const;

export interface Metrics {
  middleware: MiddlewareHandler;
  render(): Promise<{ contentType: string; body: string }>;
}

/** The registry and its metrics, made from prom-client once it is loaded. */
function registryOf({ Counter, Gauge, Histogram, Registry }: typeof import("prom-client")) {
  const registry = new Registry();
  const duration = new Histogram({
    name: "kvc_http_request_duration_seconds",
    help: "HTTP request duration by route pattern, method and status",
    labelNames: ["route", "method", "status"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const requests = new Counter({
    name: "kvc_http_requests_total",
    help: "HTTP requests by route pattern, method and status",
    labelNames: ["route", "method", "status"],
    registers: [registry],
  });
  const gauge = (name: string, help: string, labels: readonly string[] = CL) =>
    new Gauge({ name, help, labelNames: [...labels], registers: [registry] });
  const g = {
    version: gauge("kvc_cluster_version", "Topology version stored in etcd"),
    shards: gauge("kvc_cluster_shards", "Shards in the cluster"),
    nodesByRole: gauge("kvc_cluster_nodes", "Nodes by role", [...CL, "role"]),
    nodesByState: gauge("kvc_cluster_nodes_by_state", "Nodes by probe state", [...CL, "state"]),
    failures: gauge("kvc_node_consecutive_failures", "Consecutive failed probes", [
      ...CL,
      "shard",
      "node",
      "addr",
    ]),
    unmanageable: gauge(
      "kvc_node_unmanageable",
      "1 while the node answers the probe with an error reply (`error`: NOAUTH, WRONGPASS, max clients): up, never failed over, not managed",
      [...CL, "shard", "node", "addr", "error"],
    ),
    drained: gauge(
      "kvc_node_drained",
      "1 while the node is drained for maintenance: never failed over, its alerts silenced",
      [...CL, "shard", "node", "addr"],
    ),
    behind: gauge("kvc_cluster_nodes_behind", "Nodes reporting an older topology version"),
    ahead: gauge(
      "kvc_cluster_nodes_ahead",
      "Nodes reporting a newer topology version than etcd's (never adopted)",
    ),
    slots: gauge("kvc_shard_slots", "Slots owned by the shard", [...CL, "shard"]),
    migrating: gauge("kvc_shard_migrating_slots", "Slots the shard is migrating", [...CL, "shard"]),
    tasks: gauge("kvc_cluster_tasks", "Migration tasks by state", [...CL, "state"]),
    slowTasks: gauge(
      "kvc_cluster_slow_migrations",
      "Running migration tasks whose range is past the migration timeout (still waited for)",
    ),
    notConverging: gauge(
      "kvc_cluster_not_converging_migrations",
      "Running migration tasks whose range takes writes faster than the source copies it",
    ),
    failovers: gauge("kvc_cluster_failovers_total", "Failovers in the cluster's history"),
    roundAge: gauge(
      "kvc_probe_last_round_age_seconds",
      "Seconds since the probe last recorded a round",
    ),
    safeMode: gauge("kvc_cluster_safe_mode", "1 while failover is suspended by safe mode"),
    nodeUp: gauge("kvc_node_up", "1 if the node answered INFO within the node timeout", NODE),
    nodeMemory: gauge("kvc_node_used_memory_bytes", "Resident memory (used_memory_rss)", NODE),
    nodeKeys: gauge("kvc_node_keys", "Keys, RocksDB's estimate (estimate_keys[metadata])", NODE),
    nodeOps: gauge("kvc_node_ops_per_second", "instantaneous_ops_per_sec", NODE),
    nodeClients: gauge("kvc_node_connected_clients", "Connected clients", NODE),
    nodeLag: gauge(
      "kvc_node_replication_lag",
      "Writes behind: a replica's master's sequence minus its own; a master's largest replica's",
      NODE,
    ),
    etcdUp: new Gauge({
      name: "kvc_etcd_up",
      help: "1 if this scrape could read etcd; 0 and no cluster series if it could not",
      registers: [registry],
    }),
    unreadable: new Gauge({
      name: "kvc_clusters_unreadable",
      help: "Clusters whose data in etcd could not be read",
      registers: [registry],
    }),
    unreadableDocs: new Gauge({
      name: "kvc_documents_unreadable",
      help: "Task, history and probe documents in etcd that do not decode (skipped)",
      registers: [registry],
    }),
  };

  return { registry, duration, requests, g };
}

/** Requests answered before prom-client was loaded, counted once it is (bounded). */
const MAX_PENDING = 10_000;

/** `pool`: node connections kept between scrapes, which read every node's INFO. */
export function createMetrics(ops: OpsDeps, pool: NodePool): Metrics {
  const { store, now } = ops;
  const nodeOps = { ...ops, nodePool: ops.nodePool ?? pool };
  // prom-client (with what it loads: OpenTelemetry's API, v8, perf_hooks, https) is loaded after
  // the first answer went out, not at start: a cold start's first request does not wait for it.
  let metrics: ReturnType<typeof registryOf> | undefined;
  let loading: Promise<ReturnType<typeof registryOf>> | undefined;
  const pending: { labels: Record<string, string>; seconds: number }[] = [];
  const load = () => {
    loading ??= import("prom-client").then((prom) => {
      const loaded = registryOf(prom);
      for (const { labels, seconds } of pending.splice(0)) count(loaded, labels, seconds);
      metrics = loaded;
      return loaded;
    });
    return loading;
  };
  const count = (
    m: ReturnType<typeof registryOf>,
    labels: Record<string, string>,
    seconds: number,
  ) => {
    m.duration.observe(labels, seconds);
    m.requests.inc(labels);
  };

  function record(g: ReturnType<typeof registryOf>["g"], m: ClusterMetrics) {
    const l = { namespace: m.namespace, cluster: m.cluster };
    g.version.set(l, m.version);
    g.shards.set(l, m.shards);
    for (const [role, n] of Object.entries(m.nodesByRole)) g.nodesByRole.set({ ...l, role }, n);
    for (const [state, n] of Object.entries(m.nodesByState)) g.nodesByState.set({ ...l, state }, n);
    for (const f of m.nodeFailures) {
      g.failures.set({ ...l, shard: String(f.shard), node: f.node, addr: f.addr }, f.failures);
      g.unmanageable.set(
        { ...l, shard: String(f.shard), node: f.node, addr: f.addr, error: f.unmanageable ?? "" },
        f.unmanageable === null ? 0 : 1,
      );
      g.drained.set(
        { ...l, shard: String(f.shard), node: f.node, addr: f.addr },
        f.drained ? 1 : 0,
      );
    }
    g.behind.set(l, m.nodesBehind);
    g.ahead.set(l, m.nodesAhead);
    for (const [shard, n] of m.slotsByShard.entries())
      g.slots.set({ ...l, shard: String(shard) }, n);
    for (const [shard, n] of m.migratingSlotsByShard.entries()) {
      g.migrating.set({ ...l, shard: String(shard) }, n);
    }
    for (const [state, n] of Object.entries(m.tasksByState)) g.tasks.set({ ...l, state }, n);
    g.slowTasks.set(l, m.slowTasks);
    g.notConverging.set(l, m.notConverging);
    g.failovers.set(l, m.failovers);
    if (m.lastRoundAgeSeconds !== null) g.roundAge.set(l, m.lastRoundAgeSeconds);
    g.safeMode.set(l, m.safeMode ? 1 : 0);
  }

  function recordNode(
    g: ReturnType<typeof registryOf>["g"],
    namespace: string,
    cluster: string,
    n: NodeStats,
  ) {
    const l = {
      namespace,
      cluster,
      shard: String(n.shard),
      node: n.id,
      addr: n.addr,
      role: n.role,
    };
    g.nodeUp.set(l, n.up ? 1 : 0);
    // A node that did not answer has no figures: no series, rather than a false zero.
    const set = (gaugeOf: Gauge, value: number | null) => {
      if (value !== null) gaugeOf.set(l, value);
    };
    set(g.nodeMemory, n.used_memory_bytes);
    set(g.nodeKeys, n.keys);
    set(g.nodeOps, n.ops_per_sec);
    set(g.nodeClients, n.connected_clients);
    set(g.nodeLag, n.replication_lag);
  }

  return {
    middleware: async (c, next) => {
      const started = performance.now();
      await next();
      const labels = {
        route: routePath(c) || "unmatched",
        method: c.req.method,
        status: String(c.res.status),
      };
      const seconds = (performance.now() - started) / 1000;
      if (metrics) {
        count(metrics, labels, seconds);
        return;
      }
      if (pending.length < MAX_PENDING) pending.push({ labels, seconds });
      // Loaded after this answer is written (node-server writes it when this chain settles).
      if (pending.length === 1) setImmediate(load);
    },
    async render() {
      const { registry, g } = metrics ?? (await load());
      let snapshot: MetricsSnapshot;
      try {
        snapshot = await collectMetrics(store, now());
      } catch {
        // etcd unreachable: the scrape still answers, so an alert can say so.
        for (const gaugeOf of Object.values(g)) gaugeOf.reset();
        g.etcdUp.set(0);
        return { contentType: registry.contentType, body: await registry.metrics() };
      }
      const nodeStats = await readClustersStats(
        nodeOps,
        snapshot.topologies.map((t) => t.cluster),
      );
      // The scrape read every readable cluster's nodes: a connection no scrape or stats read
      // used since the last one belongs to a node in no cluster, and is let go.
      if (snapshot.unreadable.length === 0) pool.closeIdle();
      // Cluster gauges describe etcd now: drop series of clusters and nodes that are gone.
      for (const gaugeOf of Object.values(g)) gaugeOf.reset();
      g.etcdUp.set(1);
      for (const m of snapshot.clusters) record(g, m);
      for (const [at, { namespace, cluster }] of snapshot.topologies.entries()) {
        for (const n of nodeStats[at] ?? []) recordNode(g, namespace, cluster.name, n);
      }
      g.unreadable.set(snapshot.unreadable.length);
      g.unreadableDocs.set(snapshot.unreadableDocs);
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
