// One probe round over the clusters an invocation owns, with bounded concurrency. Ownership
// (see ownership.ts) lets any number of invocations run at once without probing one cluster
// twice, and every write of a cluster's round is fenced by its owner's lease.
import { hostname } from "node:os";
import type { Etcd3 } from "etcd3";
import { errorMessage } from "../errors.js";
import { eachLimited } from "../limit.js";
import type { OpsDeps } from "../ops/index.js";
import { CLUSTERS_PER_READ, type ClusterRef, type Fence, ownerString } from "../store/index.js";
import { ProbeInvocation } from "./ownership.js";
import { clearOrphanSuspicions, witnessSuspicions } from "./quorum.js";
import {
  type ClusterRoundReport,
  PROBE_ROUND_SCHEMAS,
  type ProbeRoundRead,
  type ProbeSettings,
  probeCluster,
} from "./round.js";

export interface ProbeRunDeps extends OpsDeps {
  etcd: Etcd3;
}

export interface RunSettings extends ProbeSettings {
  concurrency: number;
  /** TTL of the invocation's lease: how long a crashed invocation's clusters stay owned. */
  lockTtlSeconds: number;
}

export interface RoundSummary {
  clusters: number;
  probed: number;
  skipped: number;
  /** Ownership changes made this round (each one etcd write): taken over, handed on. */
  claimed: number;
  handedOver: number;
  failovers: number;
  repairs: number;
  /** Votes this invocation recorded as a witness on clusters others own. */
  witnessed: number;
  errors: { ns: string; cluster: string; error: string }[];
  reports: ClusterRoundReport[];
  durationMs: number;
}

/** Starts an invocation with the run settings (see `ProbeInvocation`). */
export function startInvocation(
  deps: ProbeRunDeps,
  settings: RunSettings,
  member: boolean,
): Promise<ProbeInvocation> {
  return ProbeInvocation.start(deps.etcd, deps.store.keys, {
    ttlSeconds: settings.lockTtlSeconds,
    observer: settings.observer ?? hostname(),
    member,
    heartbeatMs: settings.heartbeatMs,
    now: deps.now,
  });
}

/**
 * One round. With `invocation`, over the clusters it owns (kept across rounds); without,
 * as a one-round run that takes every unowned cluster and releases them at the end.
 */
export async function probeAllClusters(
  deps: ProbeRunDeps,
  settings: RunSettings,
  signal?: AbortSignal,
  invocation?: ProbeInvocation,
): Promise<RoundSummary> {
  const own = invocation ?? (await startInvocation(deps, settings, false));
  try {
    return await probeOwnedClusters(deps, settings, own, signal);
  } finally {
    if (!invocation) await own.end();
  }
}

async function probeOwnedClusters(
  deps: ProbeRunDeps,
  settings: RunSettings,
  invocation: ProbeInvocation,
  signal: AbortSignal | undefined,
): Promise<RoundSummary> {
  const started = deps.now();
  const refs: ClusterRef[] = await deps.store.listAllClusters();
  const plan = await invocation.plan(refs);
  // A member's liveness is its registry entry's heartbeat, not a per-cluster one: a healthy
  // round then writes nothing, however many clusters it probes.
  const clusterSettings = {
    ...settings,
    observer: invocation.observer,
    ...(invocation.options.member ? { heartbeatMs: Number.POSITIVE_INFINITY } : {}),
  };
  const summary: RoundSummary = {
    clusters: refs.length,
    probed: 0,
    skipped: plan.elsewhere,
    claimed: plan.claimed,
    handedOver: plan.handedOver,
    failovers: 0,
    repairs: 0,
    witnessed: 0,
    errors: plan.errors.map(({ ref, error }) => ({
      ns: ref.namespace,
      cluster: ref.cluster,
      error,
    })),
    reports: [],
    durationMs: 0,
  };
  // Witnessing runs beside the owned clusters: a suspicion elsewhere is answered this round.
  const suspicions =
    (settings.quorum ?? 1) > 1
      ? deps.store.readQuorum().catch((err) => {
          // A witness that cannot read the suspicions this round votes next round.
          deps.log.warn({ error: errorMessage(err) }, "probe: suspicions not read");
          return null;
        })
      : Promise.resolve(null);
  const witnessing = suspicions.then((entries) =>
    entries
      ? witnessSuspicions(
          deps,
          clusterSettings,
          {
            lease: invocation.lease,
            owned: new Set(plan.mine.map((m) => ownerString(m.ref))),
          },
          entries,
          invocation.signal,
        ).catch((err) => {
          deps.log.warn({ error: errorMessage(err) }, "probe: witnessing failed");
          return [];
        })
      : [],
  );
  const readAhead = roundReads(deps, plan.mine, invocation);
  const order = plan.mine.map((mine, index) => ({ ...mine, index }));
  await eachLimited(order, settings.concurrency, async ({ ref, fence, index }) => {
    const { namespace, cluster } = ref;
    if (signal?.aborted || invocation.signal.aborted) {
      summary.skipped++;
      return;
    }
    try {
      const pre = await readAhead(index);
      const report = await probeCluster(
        deps,
        namespace,
        cluster,
        clusterSettings,
        fence,
        invocation.signal,
        pre,
      );
      summary.probed++;
      summary.failovers += report.failovers.length;
      summary.repairs += report.repairs.filter((r) => r.ok).length;
      summary.reports.push(report);
    } catch (err) {
      summary.errors.push({ ns: namespace, cluster, error: errorMessage(err) });
    }
  });
  summary.witnessed = (await witnessing).filter((w) => w.recorded).length;
  const entries = await suspicions;
  if (entries) await clearOrphans(deps, entries, invocation, plan.mine, summary.reports);
  // Nodes no longer in any cluster (and old passwords) were not used this pass: close them.
  deps.nodePool?.closeIdle();
  invocation.topologies.sweep();
  summary.durationMs = deps.now() - started;
  await invocation.roundDone(deps.now());
  return summary;
}

/** This owner's suspicions that none of this round's cluster rounds still holds pending. */
async function clearOrphans(
  deps: ProbeRunDeps,
  entries: Parameters<typeof clearOrphanSuspicions>[1],
  invocation: ProbeInvocation,
  mine: readonly { ref: ClusterRef; fence: Fence }[],
  reports: readonly ClusterRoundReport[],
): Promise<void> {
  const fences = new Map(mine.map((m) => [ownerString(m.ref), m.fence]));
  const pending = new Map<string, { fence: Fence; masters: ReadonlySet<string> }>();
  for (const r of reports) {
    const id = ownerString({ namespace: r.ns, cluster: r.cluster });
    const fence = fences.get(id);
    if (fence && !r.lockLost) pending.set(id, { fence, masters: new Set(r.pendingQuorum) });
  }
  try {
    const cleared = await clearOrphanSuspicions(deps, entries, invocation, pending);
    if (cleared > 0) deps.log.info({ cleared }, "probe: removed suspicions no round holds");
  } catch (err) {
    deps.log.warn({ error: errorMessage(err) }, "probe: stale suspicions not removed");
  }
}

/**
 * The round's etcd inputs of the clusters in `mine`, read a transaction's worth of clusters
 * at a time, just before they are probed (the next batch is read while this one is probed).
 * `readAhead(i)` is the inputs of `mine[i]`, or undefined when the batch could not be read:
 * that cluster's round then reads its own, as it would alone.
 */
function roundReads(
  deps: ProbeRunDeps,
  mine: readonly { ref: ClusterRef }[],
  invocation: ProbeInvocation,
): (index: number) => Promise<ProbeRoundRead | undefined> {
  const batches = new Map<number, Promise<Map<string, ProbeRoundRead> | null>>();
  const batch = (n: number) => {
    let read = batches.get(n);
    if (!read) {
      const refs = mine.slice(n * CLUSTERS_PER_READ, (n + 1) * CLUSTERS_PER_READ).map((m) => m.ref);
      read = deps.store
        .readClusterRounds(refs, PROBE_ROUND_SCHEMAS, invocation.topologies)
        .catch((err: unknown) => {
          deps.log.warn(
            { error: errorMessage(err) },
            "probe: batched read failed, reading per cluster",
          );
          return null;
        });
      batches.set(n, read);
    }
    return read;
  };
  return async (index) => {
    const n = Math.floor(index / CLUSTERS_PER_READ);
    if ((n + 1) * CLUSTERS_PER_READ < mine.length) void batch(n + 1);
    const ref = mine[index]!.ref;
    return (await batch(n))?.get(ownerString(ref));
  };
}

/** The summary's counts, for a structured log line. */
export function summaryFields(summary: RoundSummary) {
  return {
    clusters: summary.clusters,
    probed: summary.probed,
    skipped: summary.skipped,
    claimed: summary.claimed,
    handed_over: summary.handedOver,
    failovers: summary.failovers,
    repairs: summary.repairs,
    witnessed: summary.witnessed,
    errors: summary.errors.length,
    duration_ms: summary.durationMs,
  };
}

export function formatSummary(summary: RoundSummary): string {
  const errors = summary.errors.length > 0 ? `, errors ${summary.errors.length}` : "";
  const moved =
    summary.claimed + summary.handedOver > 0
      ? `, taken over ${summary.claimed}, handed on ${summary.handedOver}`
      : "";
  return `probe: clusters ${summary.clusters}, probed ${summary.probed}, skipped ${summary.skipped}, failovers ${summary.failovers}, repairs ${summary.repairs}${moved}${errors} in ${summary.durationMs} ms`;
}

export const HEARTBEAT_MS = 60_000;

export function runSettingsFrom(config: {
  probe: {
    failures: number;
    intervalMs: number;
    downAfterMs: number;
    confirmEveryMs: number;
    timeoutMs: number;
    safeModeRatio: number;
    concurrency: number;
    lockTtlSeconds: number;
    quorum: number;
    observer?: string | undefined;
  };
}): RunSettings {
  const { observer, ...probe } = config.probe;
  return { ...probe, ...(observer ? { observer } : {}), heartbeatMs: HEARTBEAT_MS };
}
