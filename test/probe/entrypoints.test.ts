import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { sharedEtcdEndpoints, uniquePrefix } from "../support/env.js";
import { eventually, startHarness } from "../support/harness.js";
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

  it("on SIGTERM, lets the round in flight finish before it releases its clusters", async () => {
    const h = await startHarness({ label: "cron-stop" });
    try {
      const nodes = await h.startNodes(2);
      await h.createCluster("s", "c", nodes, 2);
      const child = spawn(process.execPath, ["--import", "tsx", "cron/scheduler.ts"], {
        env: {
          ...process.env,
          KVC_ETCD_ENDPOINTS: sharedEtcdEndpoints().join(","),
          KVC_ETCD_PREFIX: h.prefix,
          KVC_PROBE_TIMEOUT_MS: "5000",
          KVC_NODE_TIMEOUT_MS: "5000",
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) =>
        child.on("exit", (code) => resolve(code)),
      );
      const rounds = () => out.match(/probe: clusters 1, probed 1/g)?.length ?? 0;
      await eventually(() => rounds() >= 1, 20_000);
      // The next round waits about 2 s on this node; SIGTERM arrives in the middle of it.
      for (const n of nodes) n.setFault({ delayMs: 2000 });
      const before = rounds();
      await new Promise((r) => setTimeout(r, 1500));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(rounds()).toBeGreaterThan(before);
    } finally {
      await h.close();
    }
  }, 60_000);
});
