// A controller over the shared real etcd (own key prefix) and simulator nodes, for tests that
// drive the real HTTP app with `app.request` and the real probe functions.
import type { Etcd3 } from "etcd3";
import { createApp } from "../../functions/app.js";
import { loadConfig } from "../../lib/config/index.js";
import { NodePool } from "../../lib/kvrocks/index.js";
import type { Logger } from "../../lib/log.js";
import type { Cluster } from "../../lib/model/index.js";
import type { RunSettings } from "../../lib/probe/index.js";
import { runSettingsFrom } from "../../lib/probe/index.js";
import { openRuntime, type Runtime } from "../../lib/runtime.js";
import { sharedEtcdEndpoints, uniquePrefix } from "./env.js";
import { type SimNode, type SimNodeOptions, startSimNode } from "./kvrocks-sim/server.js";
import {
  attachNodeLogsOnFailure,
  startTestNodes,
  type TestNode,
  type TestNodeOptions,
} from "./nodes.js";

export interface Harness {
  prefix: string;
  runtime: Runtime;
  etcd: Etcd3;
  app: ReturnType<typeof createApp>;
  nodes: SimNode[];
  settings: RunSettings;
  /** Probe rounds keep node connections between rounds, as a `--for` invocation does. */
  nodePool: NodePool;
  /** JSON request against the app; returns status and parsed body. */
  request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiAnswer>;
  /** Simulated nodes, for tests that need the simulator's fault knobs or state. */
  startNodes(n: number, opts?: SimNodeOptions): Promise<SimNode[]>;
  /**
   * Real Kvrocks nodes when KVROCKS_BIN is set, simulated ones otherwise: tests written
   * against these run in `npm test` and `npm run test:kvrocks` alike. Their logs are printed
   * when the test fails.
   */
  startTestNodes(n: number, opts?: TestNodeOptions): Promise<TestNode[]>;
  /** Creates namespace + cluster over `nodes` through the API and returns the stored cluster. */
  createCluster(
    ns: string,
    name: string,
    nodes: readonly { addr: string }[],
    replicas: number,
    password?: string,
  ): Promise<Cluster>;
  cluster(ns: string, name: string): Promise<Cluster>;
  close(): Promise<void>;
}

export interface ApiAnswer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary answer shapes
  body: any;
  text: string;
}

export async function startHarness(
  options: { env?: Record<string, string>; label?: string; log?: Logger } = {},
): Promise<Harness> {
  const prefix = uniquePrefix(options.label ?? "h");
  const config = loadConfig(undefined, {
    KVC_ETCD_ENDPOINTS: sharedEtcdEndpoints().join(","),
    KVC_ETCD_PREFIX: prefix,
    KVC_NODE_TIMEOUT_MS: "1000",
    KVC_PROBE_TIMEOUT_MS: "1000",
    KVC_PROBE_INTERVAL_MS: "1",
    // Tests count failures one round at a time (`round(h)` n times); a test of the
    // suspect-then-confirm path sets a down-after time of its own.
    KVC_PROBE_DOWN_AFTER_MS: "0",
    // Quiet unless asked: KVC_LOG_LEVEL=debug npx vitest ... shows what the core logs.
    KVC_LOG_LEVEL: process.env.KVC_LOG_LEVEL ?? "silent",
    ...options.env,
  });
  const runtime = openRuntime(config, options.log);
  const app = createApp({
    ops: runtime.ops,
    auth: config.auth,
    bodyLimitBytes: config.http.bodyLimitBytes,
    allowedOrigins: config.http.allowedOrigins,
    probeFailures: config.probe.failures,
  });
  const nodes: SimNode[] = [];
  const testNodes: TestNode[] = [];
  const nodePool = new NodePool();
  const harness: Harness = {
    nodePool,
    prefix,
    runtime,
    etcd: runtime.etcd,
    app,
    nodes,
    settings: runSettingsFrom(config),
    async request(method, path, body, headers = {}) {
      const init: RequestInit = { method, headers: { ...headers } };
      if (body !== undefined) {
        init.body = typeof body === "string" ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)["content-type"] = "application/json";
      }
      const res = await app.request(path, init);
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = null;
      }
      return { status: res.status, body: parsed, text };
    },
    async startNodes(n, opts) {
      const started: SimNode[] = [];
      for (let i = 0; i < n; i++) started.push(await startSimNode(opts));
      nodes.push(...started);
      return started;
    },
    async startTestNodes(n, opts) {
      const started = await startTestNodes(n, opts);
      testNodes.push(...started);
      attachNodeLogsOnFailure(started);
      return started;
    },
    async createCluster(ns, name, clusterNodes, replicas, password = "") {
      const namespace = await harness.request("POST", "/api/v1/namespaces", { namespace: ns });
      if (namespace.status !== 201 && namespace.status !== 409) throw new Error(namespace.text);
      const created = await harness.request("POST", `/api/v1/namespaces/${ns}/clusters`, {
        name,
        nodes: clusterNodes.map((n) => n.addr),
        replicas,
        password,
      });
      if (created.status !== 201)
        throw new Error(`create cluster: ${created.status} ${created.text}`);
      return harness.cluster(ns, name);
    },
    async cluster(ns, name) {
      return (await runtime.store.getCluster(ns, name)).cluster;
    },
    async close() {
      nodePool.close();
      await Promise.all([...nodes, ...testNodes].map((n) => n.close()));
      runtime.close();
    },
  };
  return harness;
}

/** Waits until `check` returns true or `timeoutMs` passes. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  stepMs = 20,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  if (!(await check())) throw new Error(`condition not met within ${timeoutMs} ms`);
}
