// `kvctl get stats` and `kvctl top` against a real controller process and simulated nodes;
// `top` runs under a pseudo-terminal (util-linux `script`) and is stopped with a real Ctrl-C.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SimNode } from "../support/kvrocks-sim/server.js";
import { addrs, type Controller, Kvctl, simNodes, startController, waitFor } from "./harness.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

let controller: Controller;
let kvctl: Kvctl;
let nodes: SimNode[];

beforeAll(async () => {
  controller = await startController({ label: "cli-stats" });
  kvctl = new Kvctl({ KVCTL_HOST: controller.url });
  nodes = await simNodes(4);
  await kvctl.ok(["create", "namespace", "sn"]);
  await kvctl.ok(["create", "cluster", "sc", "-n", "sn", "--nodes", addrs(nodes), "-r", "2"]);
  await kvctl.ok(["use", "-n", "sn", "-c", "sc"]);
});
afterAll(async () => {
  await controller?.close();
  await Promise.all(nodes?.map((n) => n.close()) ?? []);
  kvctl?.cleanup();
});

describe("kvctl get stats", () => {
  it("prints a table with a row per node, and the API's data with -o json", async () => {
    const out = await kvctl.ok(["get", "stats"]);
    const [header, ...rows] = out.trim().split("\n");
    expect(header).toMatch(/^SHARD\s+NODE ID\s+ADDRESS\s+ROLE\s+UP\s+OPS\/S\s+KEYS\s+MEMORY/);
    for (const n of nodes) expect(out).toContain(n.addr);
    expect(rows.filter((r) => /\bup\b/.test(r))).toHaveLength(4);
    const json = await kvctl.json(["get", "stats"]);
    expect(json.nodes).toHaveLength(4);
    expect(json.nodes[0]).toMatchObject({ up: true, version: "2.10.1" });
  });

  it("shows a dead node as DOWN with its error", async () => {
    await nodes[3]!.stop();
    try {
      const out = await kvctl.ok(["get", "stats"]);
      expect(out).toContain("DOWN");
      expect(out).toContain(`${nodes[3]!.addr}: `);
    } finally {
      await nodes[3]!.start();
    }
  });

  it("refuses a bad --interval with a clear message", async () => {
    const r = await kvctl.run(["top", "--interval", "0"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("--interval must be a positive number");
  });
});

describe("kvctl top", () => {
  it("prints --count tables, busiest node first", async () => {
    const master = nodes[0]!;
    const busy = setInterval(() => {
      for (let i = 0; i < 50; i++) {
        try {
          master.write(`busy:${i}`, "v");
        } catch {}
      }
    }, 20);
    try {
      const out = await kvctl.ok(["top", "--count", "2", "--interval", "0.2"]);
      const tables = out.split(/^sn\/sc {3}/m).filter((t) => t.trim() !== "");
      expect(tables).toHaveLength(2);
      const firstRow = tables[1]!.split("\n").find((l) => /^\d+\s/.test(l));
      expect(firstRow).toContain(master.addr);
    } finally {
      clearInterval(busy);
    }
  });

  it("refreshes on a terminal until Ctrl-C, then restores the cursor and exits 0", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: kvctl.home, KVCTL_HOST: controller.url };
    // `exec`: script(1) runs the command through $SHELL; a shell left waiting (dash, as CI's
    // /bin/sh) is killed by the same Ctrl-C and would report 130 whatever kvctl did.
    const command = `exec ${process.execPath} ${join(ROOT, "cli/kvctl.js")} top --interval 0.3`;
    const child = spawn("script", ["-q", "-f", "-e", "-c", command, "/dev/null"], {
      cwd: ROOT,
      env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.once("close", (code) => r(code)));
    try {
      // Three screens: each starts by clearing the terminal.
      await waitFor(async () => out.split("\x1b[H\x1b[2J").length > 3, 30_000);
      expect(out).toContain("\x1b[?25l");
      expect(out).toContain("Ctrl-C to quit");
      for (const n of nodes) expect(out).toContain(n.addr);
      child.stdin.write("\x03");
      expect(await exited).toBe(0);
      expect(out).toContain("\x1b[?25h");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
