import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { sharedEtcdEndpoints, uniquePrefix } from "../support/env.js";
import { freePort } from "../support/etcd.js";
import { eventually } from "../support/harness.js";
import { startSimNode } from "../support/kvrocks-sim/server.js";

describe("graceful shutdown", () => {
  it("finishes a request in flight on SIGTERM, refuses new connections, and exits 0", async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const child = spawn(process.execPath, ["--import", "tsx", "functions/node.ts"], {
      env: {
        ...process.env,
        KVC_ETCD_ENDPOINTS: sharedEtcdEndpoints().join(","),
        KVC_ETCD_PREFIX: uniquePrefix("shutdown"),
        KVC_PORT: String(port),
        KVC_NODE_TIMEOUT_MS: "1500",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.on("exit", (code) => resolve(code)),
    );
    const hung = await startSimNode();
    hung.setFault({ hang: true });
    try {
      await eventually(
        async () => (await fetch(`${base}/healthz`).catch(() => null))?.ok === true,
        20_000,
        50,
      );
      await fetch(`${base}/api/v1/namespaces`, {
        method: "POST",
        body: JSON.stringify({ namespace: "s" }),
        headers: { "content-type": "application/json" },
      });
      // The node check waits for a node that never answers: a request that takes ~1.5 s.
      const slow = fetch(`${base}/api/v1/namespaces/s/clusters`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "c", nodes: [hung.addr] }),
      });
      await new Promise((r) => setTimeout(r, 300));
      child.kill("SIGTERM");
      const answer = await slow;
      expect(answer.status).toBe(400);
      const body = (await answer.json()) as { error: { message: string } };
      expect(body.error.message).toMatch(/no answer within 1500 ms/);
      expect(await exited).toBe(0);
      await expect(fetch(`${base}/healthz`)).rejects.toThrow();
      expect(out).toMatch(/shutting down/);
    } finally {
      child.kill("SIGKILL");
      await hung.close();
    }
  }, 30_000);
});
