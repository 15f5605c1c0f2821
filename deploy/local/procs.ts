// Child processes of the local stack: started in their own process group (so a Ctrl-C in the
// terminal reaches only the stack script, which then stops them in order), logged to files,
// stopped by pid.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { closeSync, createWriteStream, openSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";

export interface Managed {
  name: string;
  child: ChildProcess;
  pid: number;
  /** The command line, as recorded in stack.json to recognise the process later. */
  cmd: string[];
  log: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Set before we stop it, so its exit is not reported as a crash. */
  stopping: boolean;
}

export interface StartOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  log: string;
  /** Called with each output line (the output also goes to the log). */
  onLine?: (line: string) => void;
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  opts: StartOptions,
): Managed {
  let child: ChildProcess;
  if (opts.onLine) {
    child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const log = createWriteStream(opts.log, { flags: "a" });
    const onLine = opts.onLine;
    for (const stream of [child.stdout, child.stderr]) {
      let rest = "";
      stream?.on("data", (chunk: Buffer) => {
        log.write(chunk);
        const lines = (rest + chunk.toString()).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) onLine(line);
      });
    }
    child.once("exit", () => log.end());
  } else {
    const fd = openSync(opts.log, "a");
    child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ["ignore", fd, fd],
      detached: true,
    });
    closeSync(fd);
  }
  if (child.pid === undefined) {
    // spawn failed synchronously (ENOENT is reported on "error"); surface it the same way.
    throw new Error(`cannot start ${name}: ${command}`);
  }
  const managed: Managed = {
    name,
    child,
    pid: child.pid,
    cmd: [command, ...args],
    log: opts.log,
    stopping: false,
    exited: new Promise((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
      child.once("error", () => resolve({ code: -1, signal: null }));
    }),
  };
  return managed;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopProcess(m: Managed, graceMs = 5000): Promise<void> {
  m.stopping = true;
  if (m.child.exitCode !== null || m.child.signalCode !== null) return;
  try {
    process.kill(m.pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(m.pid, "SIGKILL");
    } catch {}
  }, graceMs);
  await m.exited;
  clearTimeout(timer);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The command line of a running process, or undefined when it is gone. */
export async function commandLineOf(pid: number): Promise<string | undefined> {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {}
  return new Promise((resolve) => {
    execFile("ps", ["-o", "command=", "-p", String(pid)], (err, stdout) =>
      resolve(err ? undefined : stdout.trim() || undefined),
    );
  });
}

/** Stops a process left behind by an earlier run, if it still is what we started. */
export async function killLeftover(pid: number, cmd: string[], graceMs = 5000): Promise<boolean> {
  if (!isAlive(pid)) return false;
  const line = await commandLineOf(pid);
  if (line === undefined || !line.includes(cmd.slice(1).join(" "))) return false;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return false;
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
    while (isAlive(pid)) await sleep(50);
  }
  return true;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The last lines of a log file, for error messages. */
export function tail(file: string, lines = 15): string {
  try {
    const size = statSync(file).size;
    const text = readFileSync(file, "utf8").slice(Math.max(0, size - 20_000));
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Whether something already listens on host:port (we try to listen there ourselves). */
export function portInUse(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(true));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(false)));
  });
}

/** First executable called `name` on PATH. */
export function which(name: string, path = process.env.PATH ?? ""): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      const st = statSync(candidate);
      if (st.isFile() && (st.mode & 0o111) !== 0) return candidate;
    } catch {}
  }
  return undefined;
}

/** Runs a command to completion without blocking the event loop (the simulator lives in it). */
export function run(
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: opts.cwd,
        env: opts.env,
        timeout: opts.timeoutMs ?? 60_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code =
          err === null ? 0 : typeof err.code === "number" ? err.code : err.killed ? 124 : 1;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err?.message ?? "") });
      },
    );
  });
}
