// etcd over TLS with client certificates, through every entry point as a real process: the
// server configured by upstream's `etcd.tls` block serves and writes, the probe runs rounds,
// and a bad TLS setup ends each entry point at start with exit 1 and one clear line.
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniquePrefix } from "../support/env.js";
import { freePort } from "../support/etcd.js";
import { eventually } from "../support/harness.js";
import { type SimNode, startSimNodes } from "../support/kvrocks-sim/server.js";
import {
  makeCertificates,
  startTlsEtcd,
  type TlsEtcd,
  type TlsFiles,
} from "../support/tls-etcd.js";

let files: TlsFiles;
let etcd: TlsEtcd;
let nodes: SimNode[];
const prefix = uniquePrefix("tls");
const children: ChildProcess[] = [];

beforeAll(async () => {
  files = makeCertificates();
  etcd = await startTlsEtcd(files);
  nodes = await startSimNodes(2);
}, 60_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await Promise.all(nodes.map((n) => n.close()));
  await etcd.stop();
  rmSync(files.dir, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; ms: number }>;
}

/** An entry point as its own process; env replaces the KVC_* of the test's environment. */
function run(args: string[], env: Record<string, string>): Run {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("KVC_")),
  );
  const started = Date.now();
  const child = spawn(process.execPath, ["--import", "tsx", ...args], {
    env: { ...inherited, KVC_ETCD_PREFIX: prefix, KVC_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; ms: number }>((resolve) =>
    child.on("exit", (code) => resolve({ code, ms: Date.now() - started })),
  );
  return { child, output: () => out, exited };
}

const tlsEnv = () => ({
  KVC_ETCD_ENDPOINTS: etcd.endpoint,
  KVC_ETCD_TLS_CA: files.ca,
  KVC_ETCD_TLS_CERT: files.clientCert,
  KVC_ETCD_TLS_KEY: files.clientKey,
});

/** Exit 1 within 15 s, with exactly one line of output matching `line` and no stack trace. */
async function expectFailsFast(r: Run, line: RegExp) {
  const exit = await r.exited;
  const lines = r.output().trim().split("\n");
  expect(exit.code, r.output()).toBe(1);
  expect(exit.ms).toBeLessThan(15_000);
  expect(lines, r.output()).toHaveLength(1);
  expect(lines[0]).toMatch(line);
  expect(r.output()).not.toMatch(/^\s+at /m);
}

const ENTRY_POINTS: [string, string[]][] = [
  ["the server", ["functions/node.ts"]],
  ["the probe", ["cron/probe.ts", "--once"]],
  ["the cron scheduler", ["cron/scheduler.ts"]],
];

describe("etcd over TLS with client certificates", () => {
  it("serves and writes with upstream's etcd.tls block in the config file", async () => {
    const config = join(files.dir, "config.yaml");
    writeFileSync(
      config,
      [
        "addr: 127.0.0.1:0",
        "etcd:",
        `  addrs: ["${etcd.endpoint}"]`,
        "  username:",
        "  password:",
        "  tls:",
        "    enable: true",
        `    cert_file: ${files.clientCert}`,
        `    key_file: ${files.clientKey}`,
        `    ca_file: ${files.ca}`,
      ].join("\n"),
    );
    const port = await freePort();
    const server = run(["functions/node.ts", "-c", config], { KVC_PORT: String(port) });
    const base = `http://127.0.0.1:${port}`;
    await eventually(
      async () => (await fetch(`${base}/readyz`).catch(() => null))?.status === 200,
      20_000,
      100,
    );
    const post = (path: string, body: unknown) =>
      fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect((await post("/api/v1/namespaces", { namespace: "tls" })).status).toBe(201);
    const created = await post("/api/v1/namespaces/tls/clusters", {
      name: "c",
      nodes: nodes.map((n) => n.addr),
    });
    expect(created.status).toBe(201);
    const read = await fetch(`${base}/api/v1/namespaces/tls/clusters/c`);
    expect(read.status).toBe(200);
    expect(server.output()).not.toMatch(/DEP0123|DeprecationWarning/);
    server.child.kill("SIGTERM");
    expect((await server.exited).code).toBe(0);
  }, 60_000);

  it("runs probe rounds", async () => {
    const probe = run(["cron/probe.ts", "--for", "3s", "--every", "1s"], tlsEnv());
    const exit = await probe.exited;
    expect(exit.code, probe.output()).toBe(0);
    const rounds = probe.output().match(/probe: clusters 1, probed 1/g) ?? [];
    expect(rounds.length, probe.output()).toBeGreaterThanOrEqual(2);
  }, 60_000);

  for (const [what, args] of ENTRY_POINTS) {
    it(`ends ${what} with exit 1 and one line when the CA is wrong`, async () => {
      await expectFailsFast(
        run(args, { ...tlsEnv(), KVC_ETCD_TLS_CA: files.otherCa }),
        /etcd TLS handshake failed: unable to verify the first certificate/,
      );
    }, 30_000);

    it(`ends ${what} with exit 1 and one line naming a missing key file`, async () => {
      const missing = join(files.dir, "no-such.key");
      await expectFailsFast(
        run(args, { ...tlsEnv(), KVC_ETCD_TLS_KEY: missing }),
        new RegExp(`cannot read the etcd TLS key file ${missing}`),
      );
    }, 30_000);
  }

  it("ends the server with exit 1 when etcd refuses a client without a certificate", async () => {
    await expectFailsFast(
      run(["functions/node.ts"], { KVC_ETCD_ENDPOINTS: etcd.endpoint, KVC_ETCD_TLS_CA: files.ca }),
      /etcd refused the TLS connection \(.*bad certificate\)/,
    );
  }, 30_000);

  it("fails every Lambda invocation with the TLS line when the CA is wrong", async () => {
    for (const module of ["./cron/lambda.ts", "./functions/lambda.ts"]) {
      const script = `import(${JSON.stringify(module)}).then((m) => m.handler({}, {})).then(
        () => { console.log("no error"); process.exit(0); },
        (err) => { console.log(err.message); process.exit(3); })`;
      const lambda = run(["--input-type=module", "-e", script], {
        ...tlsEnv(),
        KVC_ETCD_TLS_CA: files.otherCa,
        KVC_LOG_LEVEL: "silent",
      });
      const exit = await lambda.exited;
      expect(exit.code, lambda.output()).toBe(3);
      expect(lambda.output()).toMatch(/etcd TLS handshake failed/);
    }
  }, 60_000);
});
