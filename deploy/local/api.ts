// The local stack talks to the controller only over its HTTP API, like any client.
import { CLUSTER, NAMESPACE, NODES_PER_SHARD } from "./settings.js";

export interface NodeView {
  id: string;
  addr: string;
  role: "master" | "slave";
}
export interface ShardView {
  nodes: NodeView[];
  slot_ranges: string[];
  migrating_slot: string | null;
  target_shard_index: number;
}
export interface ClusterView {
  name: string;
  version: number;
  shards: ShardView[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class Api {
  constructor(
    readonly base: string,
    private readonly token?: string,
  ) {}

  async call<T>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; data: T }> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let json: { data?: T; error?: { message?: string } } = {};
    try {
      json = text ? JSON.parse(text) : {};
    } catch {}
    if (res.status >= 400) {
      throw new ApiError(
        res.status,
        `${method} ${path}: ${res.status} ${json.error?.message ?? text.slice(0, 200)}`,
      );
    }
    return { status: res.status, data: json.data as T };
  }

  async cluster(ns = NAMESPACE, name = CLUSTER): Promise<ClusterView> {
    const { data } = await this.call<{ cluster: ClusterView }>(
      "GET",
      `/api/v1/namespaces/${ns}/clusters/${name}`,
    );
    return data.cluster;
  }

  /** Until the probe has seen every live node at the stored version (or the time is up). */
  async waitProbed(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        const { data } = await this.call<{
          nodes: { up: boolean; probed: boolean; behind: boolean }[];
        }>("GET", `/api/v1/namespaces/${NAMESPACE}/clusters/${CLUSTER}/health`);
        if (data.nodes.every((n) => (n.probed && !n.behind) || (n.probed && !n.up))) return true;
      } catch {}
      await new Promise((r) => setTimeout(r, 200));
    }
    return false;
  }

  async ready(): Promise<boolean> {
    try {
      const res = await fetch(`${this.base}/readyz`, { signal: AbortSignal.timeout(1000) });
      return res.ok;
    } catch {
      return false;
    }
  }
}

export type EnsureOutcome =
  | { kind: "created"; cluster: ClusterView }
  | { kind: "reused"; cluster: ClusterView }
  | { kind: "replaced"; cluster: ClusterView; stale: string[] };

/**
 * Namespace `demo` and cluster `c1` (3 shards, a master and a replica each). A second run
 * reuses what etcd already holds and pushes it to the nodes; a cluster stored with nodes
 * this stack does not run (the ports were changed) is replaced.
 */
export async function ensureDemoCluster(
  api: Api,
  members: string[],
  ours: string[],
): Promise<EnsureOutcome> {
  try {
    await api.call("POST", "/api/v1/namespaces", { namespace: NAMESPACE });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 409)) throw err;
  }
  let existing: ClusterView | undefined;
  try {
    existing = await api.cluster();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
  let stale: string[] = [];
  if (existing) {
    stale = existing.shards
      .flatMap((s) => s.nodes.map((n) => n.addr))
      .filter((a) => !ours.includes(a));
    if (stale.length === 0) {
      // Fresh (simulated) nodes know nothing yet; push the stored topology now rather than
      // waiting for the probe to repair them.
      await api.call("POST", `/api/v1/namespaces/${NAMESPACE}/clusters/${CLUSTER}/sync`, {
        force: true,
      });
      return { kind: "reused", cluster: await api.cluster() };
    }
    await api.call("DELETE", `/api/v1/namespaces/${NAMESPACE}/clusters/${CLUSTER}`);
  }
  const { data } = await api.call<{ cluster: ClusterView }>(
    "POST",
    `/api/v1/namespaces/${NAMESPACE}/clusters`,
    { name: CLUSTER, nodes: members, replicas: NODES_PER_SHARD },
  );
  return existing
    ? { kind: "replaced", cluster: data.cluster, stale }
    : { kind: "created", cluster: data.cluster };
}

/** The cluster as a table, for when kvctl cannot print it. */
export function clusterTable(cluster: ClusterView, down: ReadonlySet<string> = new Set()): string {
  const rows = [["SHARD", "SLOTS", "NODE", "ADDR", "ROLE", "STATE"]];
  cluster.shards.forEach((shard, i) => {
    const slots = shard.slot_ranges.join(",") || "-";
    const migrating =
      shard.migrating_slot !== null
        ? ` (migrating ${shard.migrating_slot} -> ${shard.target_shard_index})`
        : "";
    for (const [j, node] of shard.nodes.entries()) {
      rows.push([
        j === 0 ? String(i) : "",
        j === 0 ? slots + migrating : "",
        node.id.slice(0, 8),
        node.addr,
        node.role,
        down.has(node.addr) ? "down" : "up",
      ]);
    }
  });
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join("  ")
      .trimEnd(),
  );
  return [`cluster ${NAMESPACE}/${cluster.name}, version ${cluster.version}`, ...lines].join("\n");
}
