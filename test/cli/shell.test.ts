// `kvctl` with no command: the seed's shell, fed from a pipe (scripts) and typed into under a
// pseudo-terminal (prompt, Tab completion, history kept between runs).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SimNode } from "../support/kvrocks-sim/server.js";
import { addrs, type Controller, Kvctl, type Run, simNodes, startController } from "./harness.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

let controller: Controller;
let kvctl: Kvctl;
let nodes: SimNode[];

beforeAll(async () => {
  controller = await startController({ label: "cli-shell" });
  kvctl = new Kvctl({ KVCTL_HOST: controller.url });
  nodes = await simNodes(2);
  await kvctl.ok(["create", "namespace", "shellns"]);
  await kvctl.ok(["create", "cluster", "cl1", "-n", "shellns", "--nodes", addrs(nodes), "-r", "1"]);
});
afterAll(async () => {
  await controller?.close();
  await Promise.all(nodes?.map((n) => n.close()) ?? []);
  kvctl?.cleanup();
});

/** kvctl under a pseudo-terminal; `steps`: [wait for this text, then type these keys]. */
function underPty(steps: [string, string][]): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(
      "python3",
      [join(ROOT, "test/cli/terminal.py"), process.execPath, join(ROOT, "cli/kvctl.js")],
      {
        cwd: ROOT,
        env: { ...kvctl.environment(), PTY_STEPS: JSON.stringify(steps), TERM: "xterm" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", fail);
    child.on("close", (code) => done({ code: code ?? 1, stdout, stderr }));
  });
}

describe("the shell, from a pipe", () => {
  it("runs each line where the previous ones moved it, with no prompt", async () => {
    const r = await kvctl.run(
      [],
      {},
      [
        "ls",
        "cd shellns",
        "ls",
        "cd cl1",
        "show_cluster",
        "send_command_to_cluster CONFIG GET maxclients",
        "quit",
        "ls",
      ].join("\n"),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain("/>");
    expect(r.stdout).not.toContain("\u001b[");
    const lines = r.stdout.split("\n");
    expect(lines).toContain("shellns");
    expect(lines).toContain("cl1");
    for (const n of nodes) expect(r.stdout).toContain(n.addr);
    expect(r.stdout).toContain("2) 10240");
  });

  it("exits with the first failure's code and keeps going after it", async () => {
    const r = await kvctl.run(
      [],
      {},
      "cd nosuch\ncd shellns/cl1\nmigslot -s 0 -t 9 -l 1\nnotacommand\nshowm history\n",
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nosuch/);
    // The line after the failure ran, where cd left it.
    expect(r.stderr).toMatch(/shard 9|target/);
    expect(r.stdout + r.stderr).toMatch(/No task|no task|ID/i);
    const usage = await kvctl.run([], {}, "cd shellns/cl1\nmigslot -s 0\n");
    expect(usage.code).toBe(2);
  });

  it("creates and removes namespaces and clusters with the seed's commands", async () => {
    const r = await kvctl.run(
      [],
      {},
      [
        "create_namespace tmpns",
        "cd tmpns",
        `create_cluster -cn tmpcl -s 1 -n ${nodes[0]!.addr} --do`,
        "rm",
        "ls",
      ].join("\n"),
    );
    // The node already serves cl1: that line fails, the rest runs, the exit code is its.
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/is a node of cluster shellns\/cl1/);
    expect(r.stdout).toContain("deleted namespace tmpns");
    const list = await kvctl.ok(["list", "namespaces"]);
    expect(list).not.toContain("tmpns");
  });
});

describe("the shell, on a terminal", () => {
  it("shows the location, completes with Tab and recalls history in the next run", async () => {
    const first = await underPty([
      ["/> ", "cd shel\t"],
      ["shellns", "\r"],
      ["/shellns/> ", "cd c\t"],
      ["cl1", "\r"],
      ["/shellns/cl1/> ", "show_cl\t"],
      ["show_cluster", "\r"],
      [nodes[1]!.addr, "quit\r"],
    ]);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const history = readFileSync(join(kvctl.home, ".kvctl_history"), "utf8");
    expect(history).toContain("cd shellns\n");
    expect(history).toContain("cd cl1\n");

    // Up arrow: quit, show_cluster, cd cl1, cd shellns; Enter runs the recalled line.
    const second = await underPty([
      ["/> ", "\u001b[A\u001b[A\u001b[A\u001b[A\r"],
      ["/shellns/> ", "\u0004"],
    ]);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.stdout).toContain("/shellns/> ");
  }, 150_000);
});
