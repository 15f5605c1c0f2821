// `npm run probe -- --once` or `-- --for 55s --every 1s`: short, killable probe invocations.
// Any number may run at once. A `--for` invocation holds one lease for its whole run and keeps
// its share of the clusters from round to round; on exit (or SIGTERM) it revokes the lease so
// the invocation started after it takes them over within one interval.
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
import { parseProbeArgs } from "./args.js";

/**
 * The pause between rounds. It ends early on SIGTERM, and when a kept node connection drops
 * (a killed master closes it at once): the next round then suspects that master right away
 * instead of up to an interval later. A drop during a round skips the next pause once.
 */
class Pause {
  private wake: (() => void) | null = null;
  private dropped = false;

  nodeLost(): void {
    this.dropped = true;
    this.wake?.();
  }

  /** Leaves no listener behind (55 rounds would leak 55). */
  until(ms: number, signal: AbortSignal): Promise<void> {
    if (this.dropped) {
      this.dropped = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.wake = null;
        this.dropped = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

async function main(): Promise<number> {
  let args: ReturnType<typeof parseProbeArgs>;
  let config: ReturnType<typeof readConfig>;
  try {
    args = parseProbeArgs(process.argv.slice(2));
    config = readConfig(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(`probe: ${errorMessage(err)}`);
    return 2;
  }
  const settings = runSettingsFrom(config);
  const everyMs = args.everyMs ?? config.probe.intervalMs;
  // A round can take a few node timeouts (probe, replica survey, push) beyond its start.
  const budgetMs = args.budgetMs ?? args.forMs + 10 * config.probe.timeoutMs + 5000;
  const stop = new AbortController();
  const hardStop = setTimeout(() => {
    console.error(`probe: time budget of ${budgetMs} ms exceeded; exiting`);
    process.exit(1);
  }, budgetMs);
  hardStop.unref();
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => stop.abort(new Error(signal)));
  }

  let runtime: Runtime;
  try {
    runtime = openRuntime(config);
  } catch (err) {
    console.error(`probe: ${errorMessage(err)}`);
    return 1;
  }
  const failure = await etcdStartupFailure(runtime);
  if (failure) {
    console.error(`probe: ${failure}`);
    runtime.close();
    return 1;
  }
  // Connections to the nodes are kept between rounds of this invocation.
  const pause = new Pause();
  const nodePool = new NodePool({ onLost: () => pause.nodeLost() });
  const deps = { ...runtime.ops, etcd: runtime.etcd, nodePool };
  const until = Date.now() + args.forMs;
  let failed = false;
  // `--once` is a one-round run; anything longer keeps its clusters across rounds.
  let invocation: ProbeInvocation | undefined;
  try {
    do {
      const started = Date.now();
      try {
        if (!invocation && args.forMs > 0) {
          invocation = await startInvocation(deps, settings, true);
          runtime.log.info(
            { invocation: invocation.id, observer: invocation.observer },
            "probe: invocation started",
          );
        }
        const summary = await probeAllClusters(deps, settings, stop.signal, invocation);
        // Failovers, repairs and migration steps were logged as they happened.
        runtime.log.info(summaryFields(summary), formatSummary(summary));
        for (const e of summary.errors) {
          runtime.log.error(
            { namespace: e.ns, cluster: e.cluster, error: e.error },
            "probe: cluster round failed",
          );
        }
        failed = false;
      } catch (err) {
        // etcd unreachable for a whole round: nothing was changed; try again next round.
        runtime.log.error(
          { error: errorMessage(err) },
          `probe: round failed: ${errorMessage(err)}`,
        );
        failed = true;
      }
      const wait = Math.min(everyMs - (Date.now() - started), until - Date.now());
      if (wait > 0 && !stop.signal.aborted) {
        await pause.until(wait, stop.signal);
      }
    } while (Date.now() < until && !stop.signal.aborted);
  } finally {
    // Revoking the lease frees every cluster at once for the invocations still running.
    await invocation?.end();
    nodePool.close();
    runtime.close();
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`probe: ${errorMessage(err)}`);
    process.exit(1);
  },
);
