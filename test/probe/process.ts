// Runs the real probe entry point (`cron/probe.ts`) as a child process.
import { type ChildProcess, spawn } from "node:child_process";
import { sharedEtcdEndpoints } from "../support/env.js";

export interface ProbeProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

export function spawnProbe(
  prefix: string,
  args: string[],
  env: Record<string, string> = {},
  /** Node options before the entry point, e.g. `--import` of a test-only preload. */
  nodeArgs: string[] = [],
): ProbeProcess {
  const started = Date.now();
  const child = spawn(
    process.execPath,
    ["--import", "tsx", ...nodeArgs, "cron/probe.ts", ...args],
    {
      env: {
        ...process.env,
        KVC_ETCD_ENDPOINTS: sharedEtcdEndpoints().join(","),
        KVC_ETCD_PREFIX: prefix,
        KVC_PROBE_TIMEOUT_MS: "1000",
        KVC_NODE_TIMEOUT_MS: "1000",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>(
    (resolve) =>
      child.on("exit", (code, signal) => resolve({ code, signal, ms: Date.now() - started })),
  );
  return { child, output: () => out, exited };
}
