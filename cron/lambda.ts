// AWS Lambda entry for scheduled events (EventBridge fires at most once a minute). With
// KVC_PROBE_LAMBDA_FOR_MS (say 50000) one invocation runs a round every probe interval for that
// long, so a dead master is failed over in seconds rather than minutes; 0 runs one round.
// Set it longer than the schedule period so consecutive invocations overlap: the one running
// keeps its clusters until it ends, then revokes its lease and the next takes them over.
import { readConfig } from "../lib/config/file.js";
import { errorMessage } from "../lib/errors.js";
import { NodePool } from "../lib/kvrocks/index.js";
import {
  formatSummary,
  probeAllClusters,
  type RoundSummary,
  runSettingsFrom,
  startInvocation,
  summaryFields,
} from "../lib/probe/index.js";
import { etcdStartupFailure, openRuntime } from "../lib/runtime.js";

const config = readConfig([], process.env);
const runtime = openRuntime(config);
const settings = runSettingsFrom(config);
// Kept while the container stays warm: rounds of later invocations reuse the connections.
const nodePool = new NodePool();
const forMs = config.probe.lambdaForMs;
// Checked once per container: a TLS failure fails every invocation with its one line.
const startupFailure = etcdStartupFailure(runtime);

export async function handler() {
  const failure = await startupFailure;
  if (failure) throw new Error(failure);
  const until = Date.now() + forMs;
  const totals = {
    rounds: 0,
    failovers: 0,
    repairs: 0,
    errors: [] as RoundSummary["errors"],
    last: null as RoundSummary | null,
  };
  const deps = { ...runtime.ops, etcd: runtime.etcd, nodePool };
  const invocation = forMs > 0 ? await startInvocation(deps, settings, true) : undefined;
  try {
    do {
      const started = Date.now();
      // One failed round (an etcd leader election, say) must not end the whole window:
      // failover would then wait for the next scheduled invocation.
      try {
        const summary = await probeAllClusters(deps, settings, undefined, invocation);
        runtime.log.info(summaryFields(summary), formatSummary(summary));
        totals.failovers += summary.failovers;
        totals.repairs += summary.repairs;
        totals.errors.push(...summary.errors);
        totals.last = summary;
      } catch (err) {
        runtime.log.error(
          { error: errorMessage(err) },
          `probe: round failed: ${errorMessage(err)}`,
        );
        totals.errors.push({ ns: "", cluster: "", error: errorMessage(err) });
        if (forMs <= 0) throw err;
      }
      totals.rounds++;
      const wait = config.probe.intervalMs - (Date.now() - started);
      if (Date.now() + Math.max(0, wait) >= until) break;
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    } while (Date.now() < until);
  } finally {
    await invocation?.end();
  }
  return {
    rounds: totals.rounds,
    clusters: totals.last?.clusters ?? 0,
    probed: totals.last?.probed ?? 0,
    skipped: totals.last?.skipped ?? 0,
    failovers: totals.failovers,
    repairs: totals.repairs,
    errors: totals.errors,
  };
}
