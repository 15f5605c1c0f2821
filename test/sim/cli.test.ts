// The command-line entry, as a tool or a developer would run it.

import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** Two consecutive free ports. */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    const ok = await Promise.all([base, base + 1].map(portIsFree));
    if (ok.every(Boolean)) return base;
  }
  throw new Error("no free port pair");
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

describe("main.ts", () => {
  it("starts N nodes on consecutive ports, prints them and 'ready', exits 0 on SIGTERM", async () => {
    const port = await freePortPair();
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "test/support/kvrocks-sim/main.ts",
        "--count",
        "2",
        "--port",
        String(port),
        "--password",
        "pw",
      ],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.setEncoding("utf8");
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready line; got ${out}`)), 20_000);
      child.stdout.on("data", (d: string) => {
        out += d;
        if (out.includes("ready\n")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on("exit", (code) => reject(new Error(`exited early with ${code}: ${out}`)));
    });
    expect(out).toBe(`127.0.0.1:${port}\n127.0.0.1:${port + 1}\nready\n`);

    const r = new Redis({
      port: port + 1,
      password: "pw",
      protocol: 2,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableReadyCheck: false,
      retryStrategy: () => null,
    });
    await r.connect();
    expect(await r.call("CLUSTERX", ["VERSION"])).toBe("-1");
    r.disconnect();

    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});
