// `get stats`: each node's live figures once; `top`: the same, refreshed, busiest first.
import type { Command } from "commander";
import { run } from "../context.js";
import { UnreachableError, UsageError } from "../errors.js";
import { byOpsPerSec, statsView } from "../format/stats-view.js";
import { formatTime } from "../format/table.js";
import { examples, listed, OURS } from "./groups.js";
import { withCluster } from "./scope.js";
import type { Verbs } from "./verbs.js";

const CLEAR = "\x1b[H\x1b[2J";
const HIDE_CURSOR = "\x1b[?25l";
const SHOW_CURSOR = "\x1b[?25h";

function positive(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    throw new UsageError(`${flag} must be a positive number, got "${text}"`);
  }
  return value;
}

export function registerStats(verbs: Verbs, program: Command): void {
  examples(
    withCluster(verbs.get.command("stats"))
      .argument("[cluster]", "cluster (or -c)")
      .description("Show each node's live figures, read from the nodes now"),
    "kvctl get stats -n prod -c orders",
    "kvctl get stats -o json | jq '.nodes[] | select(.up | not)'",
  ).action(
    run(async (ctx, opts, [name]) => {
      const { ns, cl } = ctx.scope(opts, name);
      const data = await ctx.api.stats(ns, cl);
      ctx.out.result(data, () => statsView(data.nodes));
    }),
  );

  const top = withCluster(
    listed(program.command("top"), OURS, "top [cluster]")
      .argument("[cluster]", "cluster (or -c)")
      .description("Each node's live figures, busiest first, refreshed until Ctrl-C"),
  )
    .option("--interval <seconds>", "seconds between refreshes (default: 1)")
    .option("--count <n>", "stop after n refreshes (default: until Ctrl-C)");
  examples(top, "kvctl top -n prod -c orders", "kvctl top --count 1 > snapshot.txt");
  top.action(
    run<{ interval?: string; count?: string }>(async (ctx, opts, [name]) => {
      const { ns, cl } = ctx.scope(opts, name);
      const intervalMs = positive("--interval", opts.interval, 1) * 1000;
      const count = opts.count === undefined ? Infinity : positive("--count", opts.count, 1);
      const terminal = process.stdout.isTTY === true && !ctx.out.machine;
      let stopped = false;
      let wake: () => void = () => {};
      const stop = () => {
        stopped = true;
        wake();
      };
      process.once("SIGINT", stop);
      if (terminal) process.stdout.write(HIDE_CURSOR);
      try {
        for (let i = 0; i < count && !stopped; i++) {
          let text: string;
          let data: unknown = null;
          try {
            const stats = await ctx.api.stats(ns, cl);
            data = stats;
            text = statsView(byOpsPerSec(stats.nodes));
          } catch (err) {
            // On a terminal a controller that is briefly away is shown, not fatal.
            if (!terminal || !(err instanceof UnreachableError)) throw err;
            text = `error: ${err.message}`;
          }
          if (ctx.out.machine) ctx.out.result(data, () => text);
          else {
            const title = `${ns}/${cl}   ${formatTime(Date.now())}   every ${intervalMs / 1000}s, Ctrl-C to quit`;
            process.stdout.write(`${terminal ? CLEAR : i > 0 ? "\n" : ""}${title}\n\n${text}\n`);
          }
          if (i + 1 < count && !stopped) {
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, intervalMs);
              wake = () => {
                clearTimeout(timer);
                resolve();
              };
            });
          }
        }
      } finally {
        process.off("SIGINT", stop);
        if (terminal) process.stdout.write(SHOW_CURSOR);
      }
    }),
  );
}
