import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { sharedEtcdEndpoints, uniquePrefix } from "../support/env.js";
import { eventually } from "../support/harness.js";
import { spawnProbe } from "./process.js";

describe("probe entry points", () => {
  it("refuses an unknown option with exit code 2", async () => {
    const run = spawnProbe(uniquePrefix("args"), ["--sometimes"]);
    const exit = await run.exited;
    expect(exit.code).toBe(2);
    expect(run.output()).toMatch(/unknown option --sometimes/);
  });

  it("exits 1 with a message when etcd cannot be reached", async () => {
    const run = spawnProbe(uniquePrefix("down"), ["--once"], {
      KVC_ETCD_ENDPOINTS: "127.0.0.1:1",
      KVC_ETCD_TIMEOUT_MS: "500",
    });
    const exit = await run.exited;
    expect(exit.code).toBe(1);
    expect(run.output()).toMatch(/etcd is unreachable/);
  });

  it("runs the node-cron scheduler until SIGTERM, then exits cleanly", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "cron/scheduler.ts"], {
      env: {
        ...process.env,
        KVC_ETCD_ENDPOINTS: sharedEtcdEndpoints().join(","),
        KVC_ETCD_PREFIX: uniquePrefix("cron"),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.on("exit", (code) => resolve(code)),
    );
    await eventually(() => out.includes("probing every cluster"), 15_000);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(out).toMatch(/\*\/1 \* \* \* \* \*/);
  }, 20_000);
});
