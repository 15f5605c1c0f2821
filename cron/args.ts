// Command-line of the probe invocation: `--once`, or `--for 55s --every 1s`.
import { z } from "zod";

const Duration = z
  .string()
  .regex(/^\d+(\.\d+)?(ms|s|m)?$/, "must be a duration like 500ms, 55s or 2m")
  .transform((text) => {
    const value = Number.parseFloat(text);
    if (text.endsWith("ms")) return value;
    if (text.endsWith("m")) return value * 60_000;
    return value * 1000;
  });

export interface ProbeArgs {
  /** How long to keep running rounds; 0 = one round. */
  forMs: number;
  /** Pause between round starts; defaults to the probe interval. */
  everyMs: number | undefined;
  /** Hard limit for the whole invocation. */
  budgetMs: number | undefined;
}

export function parseProbeArgs(argv: readonly string[]): ProbeArgs {
  const args: ProbeArgs = { forMs: 0, everyMs: undefined, budgetMs: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return Duration.parse(v);
    };
    if (arg === "--once") args.forMs = 0;
    else if (arg === "--for") args.forMs = value();
    else if (arg === "--every") args.everyMs = value();
    else if (arg === "--budget") args.budgetMs = value();
    else if (arg === "-c" || arg === "--config") i++;
    else if (arg?.startsWith("--config=")) continue;
    else
      throw new Error(
        `unknown option ${arg} (use --once, --for 55s, --every 1s, --budget 60s, -c FILE)`,
      );
  }
  return args;
}
