// `npm run cron`: a long-running process that fires a probe round on a cron schedule, for
// deployments without an external scheduler. Rounds never overlap within this process, and
// the process is one probe invocation: one lease, its clusters kept from round to round.
import { schedule } from "node-cron";
import { readConfig } from "../lib/config/file.js";
import { errorMessage } from "../lib/errors.js";
import { NodePool } from "../lib/kvrocks/index.js";
import {
  formatSummary,
  type ProbeInvocation,
  probeAllClusters,
  runSettingsFrom,
  startInvocation,
  summaryFields,
} from "../lib/probe/index.js";
import { etcdStartupFailure, openRuntime, type Runtime } from "../lib/runtime.js";

function cronExpression(intervalMs: number): string {
  const seconds = Math.max(1, Math.round(intervalMs / 1000));
  return seconds < 60
    ? `*/${seconds} * * * * *`
    : `0 */${Math.max(1, Math.round(seconds / 60))} * * * *`;
}

async function main() {
  let config: ReturnType<typeof readConfig>;
  try {
    config = readConfig(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(`cron: bad configuration: ${errorMessage(err)}`);
    process.exit(2);
  }
  let runtime: Runtime;
  try {
    runtime = openRuntime(config);
  } catch (err) {
    console.error(`cron: ${errorMessage(err)}`);
    process.exit(1);
  }
  const failure = await etcdStartupFailure(runtime);
  if (failure) {
    console.error(`cron: ${failure}`);
    runtime.close();
    process.exit(1);
  }
  // Connections to the nodes are kept between rounds of this invocation.
  const nodePool = new NodePool();
  const deps = { ...runtime.ops, etcd: runtime.etcd, nodePool };
  const settings = runSettingsFrom(config);
  const stop = new AbortController();
  const expression = process.env.KVC_PROBE_CRON ?? cronExpression(config.probe.intervalMs);
  let invocation: ProbeInvocation | undefined;
  // The round in flight: a stop waits for it, so no cluster is released mid-failover or
  // mid-MIGRATE (node-cron's stop only clears its timers).
  let inFlight: Promise<void> = Promise.resolve();
  const runRound = async () => {
    try {
      invocation ??= await startInvocation(deps, settings, true);
      const summary = await probeAllClusters(deps, settings, stop.signal, invocation);
      runtime.log.info(summaryFields(summary), formatSummary(summary));
    } catch (err) {
      runtime.log.error({ error: errorMessage(err) }, `cron: round failed: ${errorMessage(err)}`);
    }
  };
  const task = schedule(
    expression,
    async () => {
      if (stop.signal.aborted) return;
      inFlight = runRound();
      await inFlight;
    },
    { noOverlap: true, name: "probe" },
  );
  runtime.log.info({ schedule: expression }, `cron: probing every cluster on "${expression}"`);
  const shutdown = async () => {
    stop.abort();
    await task.stop();
    await inFlight;
    // Frees this process's clusters at once for the other invocations.
    await invocation?.end();
    nodePool.close();
    runtime.close();
    process.exit(0);
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}

void main();
