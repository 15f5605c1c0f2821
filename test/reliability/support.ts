// Shared pieces of the fault and load tests: server processes, a recorder of every stored
// version of one cluster (via an etcd watch), and a seeded random source.
import { type ChildProcess, spawn } from "node:child_process";
import type { Etcd3, Watcher } from "etcd3";
import { type Cluster, clusterViolations } from "../../lib/model/index.js";
import { decodeCluster } from "../../lib/store/codec.js";
import { freePort } from "../support/etcd.js";

// --- seeded randomness: a failing run can be replayed with its seed ---

export type Rand = {
  (): number;
  int(lo: number, hi: number): number;
  pick<T>(items: readonly T[]): T;
  seed: number;
};

/** mulberry32: small, fast, good enough to pick test inputs. */
export function seededRandom(seed = Number(process.env.KVC_TEST_SEED ?? Date.now() % 2 ** 31)) {
  let a = seed >>> 0;
  const next = (() => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }) as Rand;
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  next.pick = (items) => {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[Math.floor(next() * items.length)]!;
  };
  next.seed = seed;
  return next;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// --- the HTTP server as a process (`node --import tsx functions/node.ts`) ---

export interface ServerProcess {
  base: string;
  child: ChildProcess;
  output(): string;
  /** Whether the process is still running. */
  alive(): boolean;
  stop(): Promise<void>;
}

export async function spawnServer(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "functions/node.ts"], {
    env: {
      ...process.env,
      KVC_HOST: "127.0.0.1",
      KVC_PORT: String(port),
      KVC_API_TOKENS: "",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      resolve();
    }),
  );
  const server: ServerProcess = {
    base: `http://127.0.0.1:${port}`,
    child,
    output: () => out,
    alive: () => !exited,
    async stop() {
      if (exited) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exit;
      clearTimeout(killer);
    },
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) throw new Error(`server exited before it listened:\n${out}`);
    const ok = await fetch(`${server.base}/healthz`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return server;
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`server not listening after 20 s:\n${out}`);
    }
    await sleep(100);
  }
}

export interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary answer shapes
  body: any;
  ms: number;
}

/** One JSON request over HTTP; network errors are answers with status 0. */
export async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 20_000,
): Promise<Answer> {
  const started = performance.now();
  try {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed, ms: performance.now() - started };
  } catch (err) {
    return { status: 0, body: String(err), ms: performance.now() - started };
  }
}

// --- every stored version of one cluster ---

export interface StoredVersion {
  cluster: Cluster;
  modRevision: string;
  /** When the watch delivered it (Date.now()): shortly after its commit. */
  seenAt: number;
}

export interface ClusterRecorder {
  /** Every version written, in commit order (decoded; unreadable ones are in `problems`). */
  versions: StoredVersion[];
  /** Unreadable writes, invariant violations, version steps other than +1, deletes. */
  problems: string[];
  latest(): Cluster | undefined;
  close(): Promise<void>;
}

/** What the nodes are told: members, roles, slots (not the migration bookkeeping). */
export function topologyOf(cluster: Cluster): string {
  return JSON.stringify(
    cluster.shards.map((s) => ({
      nodes: s.nodes.map((n) => [n.id, n.addr, n.role]),
      slots: s.slot_ranges,
    })),
  );
}

/**
 * Watches the cluster key from `startRevision` (so nothing committed before the watch is
 * missed) and checks each stored version as it arrives: it parses, it passes
 * `clusterViolations`, and its version is the previous one + 1 (the first may be anything),
 * or the same when only the migration bookkeeping changed.
 */
export async function recordCluster(
  etcd: Etcd3,
  key: string,
  ns: string,
  name: string,
  startRevision?: string,
): Promise<ClusterRecorder> {
  const builder = etcd.watch().key(key);
  if (startRevision) builder.startRevision(startRevision);
  const watcher: Watcher = await builder.create();
  const versions: StoredVersion[] = [];
  const problems: string[] = [];
  watcher.on("put", (kv) => {
    let cluster: Cluster;
    try {
      cluster = decodeCluster(ns, name, kv.value.toString());
    } catch (err) {
      problems.push(`revision ${kv.mod_revision}: unreadable: ${(err as Error).message}`);
      return;
    }
    const violations = clusterViolations(cluster);
    if (violations.length > 0) {
      problems.push(`version ${cluster.version}: ${violations.join("; ")}`);
    }
    const previous = versions.at(-1)?.cluster;
    if (previous && cluster.version !== previous.version + 1) {
      // Recording or clearing a data migration in flight is controller metadata: same
      // version, same topology. Anything else must be exactly one version up.
      const metadataOnly =
        cluster.version === previous.version && topologyOf(cluster) === topologyOf(previous);
      if (!metadataOnly) {
        problems.push(`version ${previous.version} was followed by ${cluster.version}`);
      }
    }
    versions.push({ cluster, modRevision: kv.mod_revision, seenAt: Date.now() });
  });
  watcher.on("delete", (kv) => problems.push(`deleted at revision ${kv.mod_revision}`));
  watcher.on("error", (err) => problems.push(`watch error: ${String(err)}`));
  return {
    versions,
    problems,
    latest: () => versions.at(-1)?.cluster,
    close: () => watcher.cancel(),
  };
}

/** Waits until `check` holds, polling; throws with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  stepMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}
