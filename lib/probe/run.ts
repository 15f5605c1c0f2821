// One probe round over every cluster: each under its own lock, with bounded concurrency, so
// any number of invocations can run at once and never probe one cluster twice at the same time.
import type { Etcd3 } from "etcd3";
import { errorMessage } from "../errors.js";
import type { OpsDeps } from "../ops/index.js";
import { type ClusterRef, tryLock } from "../store/index.js";
import { type ClusterRoundReport, type ProbeSettings, probeCluster } from "./round.js";

export interface ProbeRunDeps extends OpsDeps {
  etcd: Etcd3;
}

export interface RunSettings extends ProbeSettings {
  concurrency: number;
  lockTtlSeconds: number;
}

export interface RoundSummary {
  clusters: number;
  probed: number;
  skipped: number;
  failovers: number;
  repairs: number;
  errors: { ns: string; cluster: string; error: string }[];
  reports: ClusterRoundReport[];
  durationMs: number;
}

/** Runs `worker` over `items` with at most `limit` in flight. */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  worker: (item: T) => Promise<void>,
) {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await worker(item);
    }
  });
  await Promise.all(lanes);
}

export async function probeAllClusters(
  deps: ProbeRunDeps,
  settings: RunSettings,
  signal?: AbortSignal,
): Promise<RoundSummary> {
  const started = deps.now();
  const refs: ClusterRef[] = await deps.store.listAllClusters();
  const summary: RoundSummary = {
    clusters: refs.length,
    probed: 0,
    skipped: 0,
    failovers: 0,
    repairs: 0,
    errors: [],
    reports: [],
    durationMs: 0,
  };
  await eachLimited(refs, settings.concurrency, async ({ namespace, cluster }) => {
    if (signal?.aborted) {
      summary.skipped++;
      return;
    }
    const lock = await tryLock(deps.etcd, deps.store.keys.probeLock(namespace, cluster), {
      ttlSeconds: settings.lockTtlSeconds,
    }).catch((err: unknown) => {
      summary.errors.push({ ns: namespace, cluster, error: errorMessage(err) });
      return undefined;
    });
    if (lock === undefined) return;
    if (lock === null) {
      summary.skipped++;
      return;
    }
    try {
      const report = await probeCluster(deps, namespace, cluster, settings, lock.fence);
      summary.probed++;
      summary.failovers += report.failovers.length;
      summary.repairs += report.repairs.filter((r) => r.ok).length;
      summary.reports.push(report);
    } catch (err) {
      summary.errors.push({ ns: namespace, cluster, error: errorMessage(err) });
    } finally {
      await lock.release();
    }
  });
  // Nodes no longer in any cluster (and old passwords) were not used this pass: close them.
  deps.nodePool?.closeIdle();
  summary.durationMs = deps.now() - started;
  return summary;
}

/** The summary's counts, for a structured log line. */
export function summaryFields(summary: RoundSummary) {
  return {
    clusters: summary.clusters,
    probed: summary.probed,
    skipped: summary.skipped,
    failovers: summary.failovers,
    repairs: summary.repairs,
    errors: summary.errors.length,
    duration_ms: summary.durationMs,
  };
}

export function formatSummary(summary: RoundSummary): string {
  const errors = summary.errors.length > 0 ? `, errors ${summary.errors.length}` : "";
  return `probe: clusters ${summary.clusters}, probed ${summary.probed}, skipped ${summary.skipped}, failovers ${summary.failovers}, repairs ${summary.repairs}${errors} in ${summary.durationMs} ms`;
}

export const HEARTBEAT_MS = 60_000;

export function runSettingsFrom(config: {
  probe: {
    failures: number;
    intervalMs: number;
    timeoutMs: number;
    safeModeRatio: number;
    concurrency: number;
    lockTtlSeconds: number;
  };
}): RunSettings {
  return { ...config.probe, heartbeatMs: HEARTBEAT_MS };
}
