// `npm run local 2>&1 | tee local.log`, then Ctrl-C: the terminal sends SIGINT to the whole
// pipeline, tee dies first, and every later line the stack prints meets a closed pipe. The
// stack must still stop etcd, the controller, the probe and the nodes.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { READY_BANNER } from "../../deploy/local/stack.js";
import { freePort } from "../support/etcd.js";
import { eventually } from "../support/harness.js";
import { ROOT } from "./helpers.js";
import { freePortRange, markedProcesses } from "./stack-process.js";

const dir = mkdtempSync(join(tmpdir(), "kvc-local-pipe-"));
const stateDir = join(dir, "state");

afterAll(() => {
  for (const pid of markedProcesses(stateDir)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
});

const read = (path: string) => (existsSync(path) ? readFileSync(path, "utf8") : "");

it("Ctrl-C stops everything when stdout is a pipe whose reader dies with it", async () => {
  const log = join(dir, "local.log");
  const env = {
    ...process.env,
    KVC_LOCAL_DIR: stateDir,
    KVC_PORT: String(await freePort()),
    KVC_LOCAL_ETCD_PORT: String(await freePort()),
    KVC_LOCAL_ETCD_PEER_PORT: String(await freePort()),
    KVC_LOCAL_NODE_PORT: String(await freePortRange(8)),
    KVC_API_TOKENS: "",
    KVC_ETCD_ENDPOINTS: "",
    KVC_ETCD_PREFIX: "",
    KVROCKS_BIN: "",
    LOG: log,
  };
  // Its own process group, as a terminal's foreground job: Ctrl-C reaches npm, the stack and tee.
  const shell = spawn("bash", ["-c", 'npm run local 2>&1 | tee "$LOG" >/dev/null'], {
    cwd: ROOT,
    env,
    stdio: "ignore",
    detached: true,
  });
  const exited = new Promise((resolve) => shell.once("exit", resolve));
  try {
    await eventually(
      () => read(log).includes(READY_BANNER) || shell.exitCode !== null,
      120_000,
      200,
    );
    expect(read(log), read(log)).toContain(READY_BANNER);
    const stackPids = markedProcesses(env.KVC_LOCAL_DIR);
    expect(stackPids.length).toBeGreaterThanOrEqual(3);

    process.kill(-shell.pid!, "SIGINT");
    await exited;
    await eventually(() => markedProcesses(env.KVC_LOCAL_DIR).length === 0, 30_000, 200);
    await eventually(() => !existsSync(join(env.KVC_LOCAL_DIR, "stack.json")), 10_000, 100);
  } finally {
    try {
      process.kill(-shell.pid!, "SIGKILL");
    } catch {}
  }
}, 180_000);
