import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answers } from "../../functions/answers.js";
import { StatsAnswer } from "../../functions/routes/stats.js";
import { round } from "../probe/helpers.js";
import { launchChromium } from "../support/chromium.js";
import { type Harness, startHarness } from "../support/harness.js";

let h: Harness;
// biome-ignore lint/suspicious/noExplicitAny: the document is checked by the validator
let doc: any;

beforeAll(async () => {
  h = await startHarness({ label: "openapi" });
  doc = (await h.request("GET", "/openapi.json")).body;
});
afterAll(async () => h.close());

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1", async () => {
    expect(doc.openapi).toBe("3.1.0");
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("lists every route the app serves but the console pages, and nothing else", () => {
    const served = new Set(
      h.app.routes
        // Every route but the console's HTML pages.
        .filter((r) => r.method !== "ALL" && !r.path.startsWith("/ui"))
        .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
    );
    const documented = new Set(
      Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m} ${path}`),
      ),
    );
    expect([...documented].sort()).toEqual([...served].sort());
    expect(served.size).toBe(39);
  });

  it("describes bodies with the schemas that validate them", () => {
    const create = doc.paths["/api/v1/namespaces/{ns}/clusters"].post;
    const body = create.requestBody.content["application/json"].schema;
    expect(body.required).toEqual(expect.arrayContaining(["name", "nodes"]));
    expect(body.properties.replicas.default).toBe(1);
    expect(create.parameters.map((p: { name: string }) => p.name)).toEqual(["ns"]);
    expect(Object.keys(create.responses)).toEqual(
      expect.arrayContaining(["201", "400", "401", "403", "409", "503"]),
    );
  });

  it("documents answers that the real answers match", async () => {
    const nodes = await h.startNodes(4);
    await h.createCluster("o", "c", nodes, 2);
    const base = "/api/v1/namespaces/o/clusters/c";
    await round(h);
    const checks: [string, { parse(v: unknown): unknown }][] = [
      ["/api/v1/namespaces", answers.namespaces],
      ["/api/v1/token", answers.token],
      ["/api/v1/namespaces/o/clusters", answers.clusters],
      [base, answers.cluster],
      [`${base}/shards`, answers.shards],
      [`${base}/shards/0/nodes`, answers.nodes],
      [`${base}/health`, answers.health],
      [`${base}/failovers`, answers.failovers],
      [`${base}/tasks`, answers.tasks],
      [`${base}/stats`, StatsAnswer],
    ];
    for (const [path, schema] of checks) {
      const res = await h.request("GET", path);
      expect(res.status, path).toBe(200);
      expect(() => schema.parse(res.body), path).not.toThrow();
    }
    const failover = await h.request("POST", `${base}/shards/1/failover`);
    expect(() => answers.failover.parse(failover.body)).not.toThrow();
    const added = await h.request("POST", `${base}/shards/0/nodes`, { addr: "127.0.0.1:9" });
    expect(() => answers.nodeId.parse(added.body)).not.toThrow();
  });

  it("renders /docs in headless Chromium with no network", async () => {
    const server = (await import("@hono/node-server")).serve({
      fetch: h.app.fetch,
      port: 0,
      hostname: "127.0.0.1",
    });
    await new Promise((r) => server.once("listening", r));
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const outside: string[] = [];
      // Anything not served by us would fail offline: refuse it and remember it.
      await page.route("**/*", (route) => {
        const url = route.request().url();
        if (url.startsWith(`http://127.0.0.1:${port}/`)) return route.continue();
        outside.push(url);
        return route.abort();
      });
      await page.goto(`http://127.0.0.1:${port}/docs`);
      await expect.poll(() => page.locator("section").count()).toBe(39);
      expect(await page.locator("h1").textContent()).toContain("kvrocks-controller");
      await page.screenshot({ path: "test/artifacts/docs.png", fullPage: false });
      expect(outside).toEqual([]);
    } finally {
      await browser.close();
      server.close();
    }
  }, 60_000);
});
