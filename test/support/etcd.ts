// Throwaway etcd processes for tests: real etcd on loopback, free ports, temp data dirs.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ETCD_BIN = process.env.ETCD_BIN ?? "/usr/bin/etcd";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  /** `host:port` as the controller's KVC_ETCD_ENDPOINTS takes it. */
  endpoint: string;
  process: ChildProcess | null;
}

function spawnMember(member: EtcdMember, initialCluster: string, state: "new" | "existing") {
  const args = [
    "--name",
    member.name,
    "--data-dir",
    member.dataDir,
    "--listen-client-urls",
    member.clientUrl,
    "--advertise-client-urls",
    member.clientUrl,
    "--listen-peer-urls",
    member.peerUrl,
    "--initial-advertise-peer-urls",
    member.peerUrl,
    "--initial-cluster",
    initialCluster,
    "--initial-cluster-state",
    state,
    "--initial-cluster-token",
    "kvc-test",
    "--unsafe-no-fsync",
    "--heartbeat-interval",
    "50",
    "--election-timeout",
    "500",
    "--log-level",
    "error",
  ];
  const child = spawn(ETCD_BIN, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  child.on("exit", (code, signal) => {
    if (member.process === child) member.process = null;
    if (code && code !== 0 && !signal) {
      process.stderr.write(`etcd ${member.name} exited with ${code}: ${stderr}\n`);
    }
  });
  member.process = child;
}

async function waitHealthy(clientUrl: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as { health?: string };
      if (body.health === "true") return;
      lastError = JSON.stringify(body);
    } catch (err) {
      lastError = String(err);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`etcd at ${clientUrl} not healthy after ${timeoutMs} ms: ${lastError}`);
}

async function killMember(member: EtcdMember, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  const child = member.process;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  await exited;
}

export class EtcdCluster {
  private constructor(readonly members: EtcdMember[]) {}

  /** Endpoints in `host:port` form, for the controller's config. */
  get endpoints(): string[] {
    return this.members.map((m) => m.endpoint);
  }

  static async start(size = 1): Promise<EtcdCluster> {
    const members: EtcdMember[] = [];
    for (let i = 0; i < size; i++) {
      const clientPort = await freePort();
      const peerPort = await freePort();
      members.push({
        name: `m${i}`,
        clientUrl: `http://127.0.0.1:${clientPort}`,
        peerUrl: `http://127.0.0.1:${peerPort}`,
        endpoint: `127.0.0.1:${clientPort}`,
        dataDir: mkdtempSync(join(tmpdir(), "kvc-etcd-")),
        process: null,
      });
    }
    const initial = members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
    for (const m of members) spawnMember(m, initial, "new");
    const cluster = new EtcdCluster(members);
    try {
      await Promise.all(members.map((m) => waitHealthy(m.clientUrl)));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Kill one member (SIGKILL by default); its data dir stays so it can be restarted. */
  async kill(index: number, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const member = this.members[index];
    if (member) await killMember(member, signal);
  }

  async restart(index: number): Promise<void> {
    const member = this.members[index];
    if (!member) throw new Error(`no etcd member ${index}`);
    await killMember(member);
    const initial = this.members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
    spawnMember(member, initial, "existing");
    await waitHealthy(member.clientUrl);
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => killMember(m)));
    for (const m of this.members) rmSync(m.dataDir, { recursive: true, force: true });
  }
}
