// `npm run local` as a child process for the local-stack tests: started in the background,
// its output collected, ready once it prints the banner.
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { portInUse } from "../../deploy/local/procs.js";
import { READY_BANNER } from "../../deploy/local/stack.js";
import { ROOT } from "./helpers.js";

export class StackProcess {
  output = "";
  readonly exited: Promise<{ code: number | null; signal: string | null }>;

  private constructor(readonly child: ChildProcess) {
    child.stdout?.on("data", (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) =>
      child.on("exit", (code, signal) => resolve({ code, signal })),
    );
  }

  /** Starts the stack and waits for its ready banner; throws with its output if it exits. */
  static async start(env: NodeJS.ProcessEnv, args: string[] = []): Promise<StackProcess> {
    const child = spawn(process.execPath, ["--import", "tsx", "deploy/local/stack.ts", ...args], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const stack = new StackProcess(child);
    await stack.waitFor(
      "the ready banner",
      () => stack.output.includes(READY_BANNER) || child.exitCode !== null,
      90_000,
    );
    if (child.exitCode !== null) throw new Error(`npm run local exited:\n${stack.output}`);
    return stack;
  }

  async waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; output:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Ctrl-C, as a person would; waits (bounded) for it to finish stopping. */
  async interruptIfRunning(): Promise<void> {
    if (this.child.exitCode !== null || !this.child.pid) return;
    try {
      process.kill(this.child.pid, "SIGINT");
    } catch {}
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 15_000))]);
  }
}

/** `count` consecutive free ports. */
export async function freePortRange(count: number): Promise<number> {
  // Below the kernel's ephemeral range: a port in it that is free when checked can still be
  // taken, before the stack listens, as the source port of any outgoing connection on the
  // machine (CI failed so under load: EADDRINUSE on a node port checked free moments before).
  const ephemeralFrom = ephemeralPortsFrom();
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (ephemeralFrom - 20_000 - count));
    let free = true;
    for (let p = base; p < base + count && free; p++) free = !(await portInUse(p));
    if (free) return base;
  }
  throw new Error("no free port range");
}

/** The first port the kernel hands out as a source port (Linux; 32768 where unreadable). */
function ephemeralPortsFrom(): number {
  try {
    const first = Number(
      readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0],
    );
    return Number.isInteger(first) && first > 21_000 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

/** Processes whose environment carries a stack's marker (KVC_LOCAL_STACK=<dir>). */
export function markedProcesses(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (environ.includes(`KVC_LOCAL_STACK=${marker}`)) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}
