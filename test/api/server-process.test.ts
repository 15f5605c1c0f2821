import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharedEtcdEndpoints, uniquePrefix } from "../support/env.js";
import { freePort } from "../support/etcd.js";
import { eventually } from "../support/harness.js";
import { type SimNode, startSimNodes } from "../support/kvrocks-sim/server.js";

let server: ChildProcess;
let base: string;
let nodes: SimNode[];
let output = "";

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn("npm", ["start", "--silent"], {
    env: {
      ...process.env,
      KVC_ETCD_ENDPOINTS: sharedEtcdEndpoints().join(","),
      KVC_ETCD_PREFIX: uniquePrefix("proc"),
      KVC_PORT: String(port),
      KVC_API_TOKENS: "",
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  server.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  server.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  await eventually(
    async () => (await fetch(`${base}/healthz`).catch(() => null))?.ok === true,
    20_000,
    100,
  );
  nodes = await startSimNodes(2);
}, 30_000);

afterAll(async () => {
  if (server.pid) process.kill(-server.pid, "SIGTERM");
  await Promise.all(nodes.map((n) => n.close()));
});

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

describe("npm start", () => {
  it("serves the API over real etcd and pushes topologies to real sockets", async () => {
    expect((await call("POST", "/api/v1/namespaces", { namespace: "p" })).status).toBe(201);
    const created = await call("POST", "/api/v1/namespaces/p/clusters", {
      name: "c",
      nodes: nodes.map((n) => n.addr),
    });
    expect(created.status).toBe(201);
    expect(nodes.map((n) => n.state.version)).toEqual([1, 1]);
    expect((await call("GET", "/readyz")).status).toBe(200);
  });

  it("warns at start that no token is configured", () => {
    expect(output).toMatch(/no API tokens configured/);
  });
});

describe("cross-site requests to the open API over a real socket", () => {
  // What a page on another site can send without a preflight: text/plain, its own Origin.
  const forged = (headers: Record<string, string>, namespace: string) =>
    fetch(`${base}/api/v1/namespaces`, {
      method: "POST",
      headers: { "content-type": "text/plain;charset=UTF-8", ...headers },
      body: JSON.stringify({ namespace }),
    });

  it("refuses a foreign Origin with 403 and a JSON reason, and accepts its own origin and curl", async () => {
    const refused = await forged({ origin: "http://evil.example:8080" }, "forged");
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(
      /origin http:\/\/evil\.example:8080 is not this API's own \(http:\/\/127\.0\.0\.1:\d+\)/,
    );
    expect((await call("GET", "/api/v1/namespaces/forged")).status).toBe(404);
    // The console's own requests: Origin is the page's, which is the API's.
    expect((await forged({ origin: base, "sec-fetch-site": "same-origin" }, "own")).status).toBe(
      201,
    );
    expect((await forged({}, "curl")).status).toBe(201);
  });
});
