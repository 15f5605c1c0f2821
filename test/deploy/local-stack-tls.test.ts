// `npm run local` with KVC_LOCAL_ETCD_TLS=1: its etcd serves TLS only and demands client
// certificates; the controller and the probe reach it through the etcd.tls settings and the
// stack comes up as usual. A broken key then stops the next start at once with the one line.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { callControl, type StackState } from "../../deploy/local/control.js";
import { freePort } from "../support/etcd.js";
import { freePortRange, markedProcesses, StackProcess } from "./stack-process.js";

const dir = mkdtempSync(join(tmpdir(), "kvc-local-tls-"));
let stack: StackProcess | undefined;

afterAll(async () => {
  await stack?.interruptIfRunning();
  for (const pid of markedProcesses(dir)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

async function stackEnv(): Promise<NodeJS.ProcessEnv> {
  return {
    ...process.env,
    KVC_LOCAL_DIR: dir,
    KVC_LOCAL_ETCD_TLS: "1",
    KVC_PORT: String(await freePort()),
    KVC_LOCAL_ETCD_PORT: String(await freePort()),
    KVC_LOCAL_ETCD_PEER_PORT: String(await freePort()),
    KVC_LOCAL_NODE_PORT: String(await freePortRange(8)),
    KVC_API_TOKENS: "",
    KVC_ETCD_ENDPOINTS: "",
    KVC_ETCD_PREFIX: "",
    KVROCKS_BIN: "",
  };
}

describe("npm run local over TLS etcd", () => {
  it("comes up with the controller and probe on client certificates (and --no-load: no client load)", async () => {
    const env = await stackEnv();
    stack = await StackProcess.start(env, ["--no-load"]);
    expect(stack.output).toMatch(/etcd\s+https:\/\/127\.0\.0\.1:\d+/);
    // --no-load: the stack starts no cluster client, and its status says so.
    expect(stack.output).not.toMatch(/^ {2}load /m);
    const state = JSON.parse(readFileSync(join(dir, "stack.json"), "utf8")) as StackState;
    const status = await callControl<{ load: unknown }>(state, "GET", "/status");
    expect(status.load).toBeNull();
    const api = `http://127.0.0.1:${env.KVC_PORT}`;
    const res = await fetch(`${api}/api/v1/namespaces/demo/clusters/c1`);
    expect(res.status).toBe(200);
    // Plain HTTP to its etcd is refused: it really is TLS only.
    const plain = await fetch(`http://127.0.0.1:${env.KVC_LOCAL_ETCD_PORT}/health`).catch(
      () => null,
    );
    expect(plain?.ok ?? false).toBe(false);
    process.kill(stack.child.pid!, "SIGINT");
    expect((await stack.exited).code).toBe(0);
  }, 180_000);

  it("stops at start, exit 1, naming the TLS problem, when the client key is broken", async () => {
    writeFileSync(join(dir, "etcd-tls", "client.key"), "not a key\n");
    const env = await stackEnv();
    const child = await StackProcess.start(env).then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(child).toMatch(/controller exited [a-z ]*\(code 1\)/);
    expect(child).toMatch(/the etcd TLS key file .*client\.key is not PEM/);
  }, 180_000);
});
