// `npm run bundle`: each Lambda bundle works on its own, copied away from node_modules, against
// real etcd: the API answers API Gateway v2 events, the probe handler runs a round.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharedEtcdEndpoints, uniquePrefix } from "../support/env.js";
import { type SimNode, startSimNodes } from "../support/kvrocks-sim/server.js";
import { exec, httpApiEvent, ROOT, read } from "./helpers.js";

const MAX_BYTES = 2 * 1024 * 1024;
let work: string;
let bundleOutput = "";
const prefix = uniquePrefix("bundle");
let nodes: SimNode[] = [];

// Invokes a bundled handler in a fresh Node process, as a Lambda cold start would: the
// environment is set before the bundle is imported, then each event is passed in turn.
const INVOKE = `
const [dir, eventsJson] = process.argv.slice(2);
const { handler } = await import(dir + "/index.mjs");
const results = [];
for (const event of JSON.parse(eventsJson)) results.push(await handler(event, {}));
process.stdout.write("RESULTS " + JSON.stringify(results) + "\\n");
process.exit(0);
`;

// An API Gateway answer, or the probe handler's summary.
type HandlerResult = {
  statusCode: number;
  body: string;
  headers: Record<string, string>;
} & Record<string, unknown>;

async function invoke(name: "api" | "probe", events: unknown[]) {
  const out = await exec(
    process.execPath,
    [join(work, "invoke.mjs"), join(work, name), JSON.stringify(events)],
    {
      cwd: work,
      env: {
        PATH: process.env.PATH,
        KVC_ETCD_ENDPOINTS: sharedEtcdEndpoints().join(","),
        KVC_ETCD_PREFIX: prefix,
      },
      timeoutMs: 20_000,
    },
  );
  const line = out.stdout.split("\n").find((l) => l.startsWith("RESULTS "));
  if (out.code !== 0 || !line) {
    throw new Error(`${name} bundle failed (${out.code}):\n${out.stdout}\n${out.stderr}`);
  }
  const results = JSON.parse(line.slice("RESULTS ".length)) as HandlerResult[];
  return { results, log: out.stdout };
}

beforeAll(async () => {
  const out = await exec("npm", ["run", "--silent", "bundle"], { timeoutMs: 60_000 });
  bundleOutput = out.stdout;
  if (out.code !== 0) throw new Error(`npm run bundle failed:\n${out.stdout}\n${out.stderr}`);
  // Away from the checkout: no node_modules to fall back on.
  work = mkdtempSync(join(tmpdir(), "kvc-bundle-"));
  cpSync(join(ROOT, "bundle"), work, { recursive: true });
  writeFileSync(join(work, "invoke.mjs"), INVOKE);
  nodes = await startSimNodes(2);
}, 60_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("npm run bundle", () => {
  it("writes each handler's code under 2 MB with a code cache this Node accepts, and no .proto file", () => {
    for (const name of ["api", "probe", "server"]) {
      const dir = join(ROOT, "bundle", name);
      expect(existsSync(join(dir, "index.mjs"))).toBe(true);
      expect(statSync(join(dir, "app.cjs")).size).toBeLessThanOrEqual(MAX_BYTES);
      // etcd3's protobufs are inlined as JSON: nothing is parsed, or looked up, at start.
      expect(existsSync(join(dir, "proto"))).toBe(false);
      expect(read(join("bundle", name, "app.cjs"))).not.toContain("rpc.proto`");
      const check = spawnSync(
        process.execPath,
        [
          "-e",
          `const fs = require("node:fs"), vm = require("node:vm"), { wrap } = require("node:module");
           const s = new vm.Script(wrap(fs.readFileSync(process.argv[1] + "/app.cjs", "utf8")),
             { filename: process.argv[1] + "/app.cjs", cachedData: fs.readFileSync(process.argv[1] + "/app.cache") });
           process.stdout.write(String(s.cachedDataRejected));`,
          dir,
        ],
        { encoding: "utf8" },
      );
      expect(check.stdout).toBe("false");
      expect(bundleOutput).toMatch(new RegExp(`bundle/${name}/index\\.mjs +\\d+\\.\\d\\d MB`));
    }
    console.log(bundleOutput.trim());
  });

  it("fills the code directories the SAM template deploys", () => {
    const template = read("deploy/aws/template.yaml");
    for (const name of ["api", "probe"]) {
      expect(template).toContain(`CodeUri: ../../bundle/${name}/`);
      expect(existsSync(join(ROOT, "deploy/aws", `../../bundle/${name}/index.mjs`))).toBe(true);
    }
  });

  it("API handler: answers API Gateway v2 events from real etcd", async () => {
    const { results, log } = await invoke("api", [
      httpApiEvent("GET", "/readyz"),
      httpApiEvent("POST", "/api/v1/namespaces", { namespace: "lambda" }),
      httpApiEvent("GET", "/api/v1/namespaces"),
      httpApiEvent("POST", "/api/v1/namespaces/lambda/clusters", {
        name: "c1",
        nodes: nodes.map((n) => n.addr),
        replicas: 2,
      }),
      httpApiEvent("GET", "/api/v1/namespaces/lambda/clusters/c1"),
      httpApiEvent("GET", "/api/v1/nope"),
    ]);
    expect(results.map((r) => r.statusCode)).toEqual([200, 201, 200, 201, 200, 404]);
    expect(JSON.parse(results[2]!.body)).toEqual({ data: { namespaces: ["lambda"] } });
    expect(JSON.parse(results[4]!.body).data.cluster.version).toBe(1);
    expect(results[0]!.headers["content-type"]).toMatch(/application\/json/);
    // The create pushed the topology to the (simulated) nodes.
    expect(nodes.map((n) => n.state.version)).toEqual([1, 1]);
    // No token configured: the container says the API is open, as `npm start` does.
    expect(log).toMatch(/"level":"warn".*no API tokens configured.*open to anyone/);
  });

  it("API handler: refuses a change from a foreign origin, accepts its own (https, API Gateway's host)", async () => {
    const from = (origin: string, namespace: string) => {
      const event = httpApiEvent("POST", "/api/v1/namespaces", { namespace });
      return { ...event, headers: { ...event.headers, origin, "x-forwarded-proto": "https" } };
    };
    const { results } = await invoke("api", [
      from("https://evil.example", "forged"),
      from("https://abc123.execute-api.eu-west-1.amazonaws.com", "own-origin"),
    ]);
    expect(results.map((r) => r.statusCode)).toEqual([403, 201]);
    expect(JSON.parse(results[0]!.body).error.message).toMatch(/origin https:\/\/evil\.example/);
  });

  it("API handler: serves the console's script built into the bundle, and node stats", async () => {
    const {
      results: [page],
    } = await invoke("api", [httpApiEvent("GET", "/ui")]);
    const src = /src="(\/ui\/assets\/console\.[0-9a-f]{12}\.js)"/.exec(page!.body)?.[1];
    expect(src).toBeDefined();
    const { results } = await invoke("api", [
      httpApiEvent("GET", src!),
      httpApiEvent("GET", "/api/v1/namespaces/lambda/clusters/c1/stats"),
    ]);
    expect(results.map((r) => r.statusCode)).toEqual([200, 200]);
    expect(results[0]!.body).toContain("Operations per second");
    const stats = JSON.parse(results[1]!.body).data.nodes;
    expect(stats.map((n: { up: boolean }) => n.up)).toEqual([true, true]);
  });

  it("probe handler: runs one round over the cluster", async () => {
    const { results, log } = await invoke("probe", [{}, {}]);
    for (const r of results) {
      expect(r).toMatchObject({ clusters: 1, probed: 1, skipped: 0, failovers: 0, errors: [] });
    }
    expect(log).toMatch(/probe: clusters 1, probed 1/);
  });
});
