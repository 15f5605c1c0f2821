// Cross-site request forgery: with no token configured the caller is admin, and a JSON body
// is read whatever its Content-Type (upstream's clients rely on it), so any web page the
// operator opens could POST `text/plain` JSON to the API. A browser says where a request comes
// from (Origin, Sec-Fetch-Site); curl and kvctl say nothing and keep working.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiAnswer, type Harness, startHarness } from "../support/harness.js";
import type { SimNode } from "../support/kvrocks-sim/server.js";

// By address: a browser on the open API under a name is refused unless listed (DNS rebinding, below).
const HOST = "10.20.30.40:9379";
const OWN = `http://${HOST}`;
const EVIL = "https://evil.example";

let open: Harness;
let closed: Harness;
let listed: Harness;
let nodes: SimNode[];

beforeAll(async () => {
  [open, closed, listed] = await Promise.all([
    startHarness({ label: "origin-open" }),
    startHarness({ label: "origin-tok", env: { KVC_API_TOKENS: "admin-origin-token" } }),
    startHarness({
      label: "origin-list",
      env: { KVC_ALLOWED_ORIGINS: "https://console.example.test, http://localhost:5173" },
    }),
  ]);
  nodes = await open.startNodes(2);
  const created = await open.createCluster("csrf", "c", nodes, 1);
  if (created.shards.length !== 2) throw new Error("cluster not created");
});
afterAll(async () => Promise.all([open, closed, listed].map((h) => h?.close())));

/** Writes a key in a slot `node` owns (each master owns half the slots); returns it. */
function writeOwnKey(node: SimNode): string {
  for (let i = 0; ; i++) {
    try {
      node.write(`precious-${i}`, "1");
      return `precious-${i}`;
    } catch {}
  }
}

/** A request as a browser sends it: text/plain body (no preflight), Host and its own headers. */
async function browser(
  h: Harness,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<ApiAnswer> {
  const res = await h.app.request(`http://${HOST}${path}`, {
    method,
    headers: { host: HOST, "content-type": "text/plain;charset=UTF-8", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed, text };
}

describe("mutations from another origin", () => {
  it("refuses a cross-origin text/plain FLUSHALL with force on the open API, and the keys stay", async () => {
    const keys = nodes.map(writeOwnKey);
    const res = await browser(
      open,
      "POST",
      "/api/v1/namespaces/csrf/clusters/c/commands",
      { origin: EVIL, "sec-fetch-site": "cross-site" },
      { command: ["FLUSHALL"], force: true },
    );
    expect(res.status, res.text).toBe(403);
    expect(res.body.error.message).toMatch(/origin https:\/\/evil\.example/i);
    expect(res.body.error.message).toMatch(/KVC_ALLOWED_ORIGINS/);
    expect(nodes.map((n, i) => n.read(keys[i]!))).toEqual(["1", "1"]);
  });

  it.each([
    ["POST", "/api/v1/namespaces", { namespace: "forged" }],
    ["PUT", "/api/v1/namespaces/csrf", undefined],
    ["PATCH", "/api/v1/namespaces/csrf", undefined],
    ["DELETE", "/api/v1/namespaces/csrf/clusters/c", undefined],
  ])(
    "refuses %s %s from a foreign Origin with 403 and a JSON reason",
    async (method, path, body) => {
      for (const origin of [EVIL, "null", "http://10.20.30.40:9380", "https://10.20.30.40:9379"]) {
        const res = await browser(open, method, path, { origin }, body);
        expect(res.status, `${origin}: ${res.text}`).toBe(403);
        expect(res.body.error.message).toContain(origin);
      }
      expect((await open.request("GET", "/api/v1/namespaces/csrf/clusters/c")).status).toBe(200);
      expect((await open.request("GET", "/api/v1/namespaces/forged")).status).toBe(404);
    },
  );

  it("refuses a mutation a browser marks Sec-Fetch-Site: cross-site, even without Origin", async () => {
    const res = await browser(
      open,
      "POST",
      "/api/v1/namespaces",
      { "sec-fetch-site": "cross-site" },
      { namespace: "forged2" },
    );
    expect(res.status, res.text).toBe(403);
    expect(res.body.error.message).toMatch(/Sec-Fetch-Site: cross-site/);
    expect((await open.request("GET", "/api/v1/namespaces/forged2")).status).toBe(404);
  });

  it("applies with tokens configured too: a valid admin token from a foreign origin is refused", async () => {
    const res = await browser(
      closed,
      "POST",
      "/api/v1/namespaces",
      { origin: EVIL, authorization: "Bearer admin-origin-token" },
      { namespace: "forged3" },
    );
    expect(res.status, res.text).toBe(403);
  });
});

describe("requests that keep working", () => {
  it("accepts curl and kvctl (no Origin, no Sec-Fetch-Site), text/plain body included", async () => {
    const res = await browser(open, "POST", "/api/v1/namespaces", {}, { namespace: "curl-ns" });
    expect(res.status, res.text).toBe(201);
  });

  it("accepts the API's own origin (the console), with Sec-Fetch-Site same-origin", async () => {
    const res = await browser(
      open,
      "POST",
      "/api/v1/namespaces",
      { origin: OWN, "sec-fetch-site": "same-origin" },
      { namespace: "console-ns" },
    );
    expect(res.status, res.text).toBe(201);
  });

  it("accepts an origin listed in KVC_ALLOWED_ORIGINS, and no other", async () => {
    for (const [origin, site, status] of [
      ["https://console.example.test", "cross-site", 201],
      ["http://localhost:5173", "same-site", 201],
      ["https://console.example.test:8443", "cross-site", 403],
      [EVIL, "cross-site", 403],
    ] as const) {
      const res = await browser(
        listed,
        "POST",
        "/api/v1/namespaces",
        { origin, "sec-fetch-site": site },
        { namespace: `listed-${status}-${origin.length}` },
      );
      expect(res.status, `${origin}: ${res.text}`).toBe(status);
    }
  });

  it("leaves reads alone: a GET from a foreign origin answers", async () => {
    const res = await browser(open, "GET", "/api/v1/namespaces", {
      origin: EVIL,
      "sec-fetch-site": "cross-site",
    });
    expect(res.status, res.text).toBe(200);
  });
});

// DNS rebinding: a page at http://attacker.example:9379 whose name the attacker then points at
// the operator's controller (127.0.0.1, or a private address) is same-origin with itself:
// Origin and Host agree, Sec-Fetch-Site says same-origin, and the page reads the answers. The
// Origin check cannot see it; only the name in Host can, and an open API has no token to stop it.
describe("a browser that reaches the open API under another site's name (DNS rebinding)", () => {
  const REBOUND = "attacker.example:9379";
  const asRebound = { host: REBOUND, origin: `http://${REBOUND}`, "sec-fetch-site": "same-origin" };

  it("refuses its changes and its reads with 403 naming the Host, and nothing is created", async () => {
    const post = await browser(open, "POST", "/api/v1/namespaces", asRebound, {
      namespace: "rebound",
    });
    expect(post.status, post.text).toBe(403);
    expect(post.body.error.message).toContain(REBOUND);
    expect(post.body.error.message).toMatch(/KVC_ALLOWED_ORIGINS/);
    const { origin: _, ...getHeaders } = asRebound;
    const get = await browser(open, "GET", "/api/v1/namespaces/csrf/clusters/c", getHeaders);
    expect(get.status, get.text).toBe(403);
    const metrics = await browser(open, "GET", "/metrics", getHeaders);
    expect(metrics.status, metrics.text).toBe(403);
    expect((await open.request("GET", "/api/v1/namespaces/rebound")).status).toBe(404);
  });

  it("still serves a browser at an address or localhost, scripts under any name, listed names, and APIs with tokens", async () => {
    for (const host of ["127.0.0.1:9379", "localhost:9379", "[::1]:9379", "10.1.2.3"]) {
      const res = await browser(open, "GET", "/api/v1/namespaces", {
        host,
        "sec-fetch-site": "same-origin",
      });
      expect(res.status, `${host}: ${res.text}`).toBe(200);
    }
    const curl = await browser(open, "GET", "/api/v1/namespaces", { host: REBOUND });
    expect(curl.status, curl.text).toBe(200);
    const proxied = await browser(
      listed,
      "POST",
      "/api/v1/namespaces",
      {
        host: "console.example.test",
        "x-forwarded-proto": "https",
        origin: "https://console.example.test",
        "sec-fetch-site": "same-origin",
      },
      { namespace: "listed-own" },
    );
    expect(proxied.status, proxied.text).toBe(201);
    const tokens = await browser(closed, "GET", "/api/v1/namespaces", {
      ...asRebound,
      authorization: "Bearer admin-origin-token",
    });
    expect(tokens.status, tokens.text).toBe(200);
  });
});
