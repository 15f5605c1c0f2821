// The console's server side without a browser: public shells with no data, the assets, and
// the API behaviour the console relies on to learn a token's power without changing anything.
import { Script } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleScript } from "../../functions/ui/console-script.js";
import { type Harness, startHarness } from "../support/harness.js";

const FULL = "shell-full";
const READONLY = "shell-readonly";
let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    label: "ui-shell",
    env: { KVC_API_TOKENS: FULL, KVC_READONLY_TOKENS: READONLY },
  });
});

afterAll(async () => {
  await h.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("console shells", () => {
  it("serves every page without a token, with no data in it", async () => {
    await h.request("POST", "/api/v1/namespaces", { namespace: "secretns" }, bearer(FULL));
    const id = "a".repeat(40);
    for (const [path, kind] of [
      ["/ui", "namespaces"],
      ["/ui/namespaces/secretns", "namespace"],
      ["/ui/namespaces/secretns/clusters/c1", "cluster"],
      [`/ui/namespaces/secretns/clusters/c1/nodes/${id}`, "node"],
    ] as const) {
      const res = await h.app.request(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/html/);
      expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
      const page = await res.text();
      expect(page.startsWith("<!doctype html>")).toBe(true);
      expect(page).toContain(`data-page="${kind}"`);
      expect(page).toContain('data-access="pending"');
      // No inline script: everything comes from the one hashed asset.
      expect(page).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    }
    // The list page names no namespace: data only ever comes from the API.
    expect(await (await h.app.request("/ui")).text()).not.toContain("secretns");
  });

  it("escapes names taken from the path and refuses invalid ones", async () => {
    // Upstream accepts '<' in a name: the page shows it escaped.
    const res = await h.app.request("/ui/namespaces/%3Cb%3Ex");
    expect(await res.text()).not.toContain("<b>x");
    expect((await h.app.request("/ui/namespaces/a%01b")).status).toBe(404);
    expect((await h.app.request("/ui/namespaces/a/clusters/b/nodes/short")).status).toBe(404);
    expect((await h.app.request("/ui/nothing/here")).status).toBe(404);
    const slash = await h.app.request("/ui/");
    expect(slash.status).toBe(302);
    expect(slash.headers.get("location")).toBe("/ui");
  });

  it("serves the script and stylesheet under content-hashed names", async () => {
    const page = await (await h.app.request("/ui")).text();
    const js = /src="(\/ui\/assets\/console\.[0-9a-f]{12}\.js)"/.exec(page)?.[1];
    const css = /href="(\/ui\/assets\/console\.[0-9a-f]{12}\.css)"/.exec(page)?.[1];
    expect(js && css).toBeTruthy();
    const script = await h.app.request(js!);
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(script.headers.get("cache-control")).toContain("immutable");
    expect(await script.text()).toBe(await consoleScript());
    const style = await h.app.request(css!);
    expect(style.headers.get("content-type")).toMatch(/^text\/css/);
    expect(await style.text()).toContain("prefers-color-scheme: dark");
    expect((await h.app.request("/ui/assets/console.000000000000.js")).status).toBe(404);
  });

  it("ships a script that parses and fetches nothing from elsewhere", async () => {
    const js = await consoleScript();
    expect(() => new Script(js)).not.toThrow();
    // The SVG namespace is a name, not an address anything is fetched from.
    expect(js.replaceAll("http://www.w3.org/2000/svg", "")).not.toMatch(/https?:\/\//);
    expect(js).not.toContain("innerHTML");
  });

  it("bundles the typed client modules, with lib/slots's parser and without zod", async () => {
    const js = await consoleScript();
    expect(js).toContain("lib/slots/ranges.ts");
    expect(js).toContain("functions/ui/client/charts.ts");
    expect(js).not.toContain("node_modules/zod");
  });
});

describe("the access probe the console relies on", () => {
  // The console learns what a token may do with POST /api/v1/namespaces and an empty body.
  // This holds only because the bearer middleware runs before any route validates a body.
  it("answers 401 without a token, 403 to a read-only token and 400 to a full one", async () => {
    expect((await h.request("GET", "/api/v1/namespaces")).status).toBe(401);
    expect((await h.request("GET", "/api/v1/namespaces", undefined, bearer(READONLY))).status).toBe(
      200,
    );
    const readonly = await h.request("POST", "/api/v1/namespaces", {}, bearer(READONLY));
    expect(readonly.status).toBe(403);
    expect(readonly.body.error.message).toMatch(/read-only/);
    const full = await h.request("POST", "/api/v1/namespaces", {}, bearer(FULL));
    expect(full.status).toBe(400);
    expect(full.body.error.field).toBe("namespace");
    const wrong = await h.request("POST", "/api/v1/namespaces", {}, bearer("nope"));
    expect(wrong.status).toBe(401);
  });

  it("creates nothing while probing", async () => {
    const before = await h.request("GET", "/api/v1/namespaces", undefined, bearer(FULL));
    for (const token of [READONLY, FULL]) {
      await h.request("POST", "/api/v1/namespaces", {}, bearer(token));
    }
    const after = await h.request("GET", "/api/v1/namespaces", undefined, bearer(FULL));
    expect(after.body.data.namespaces).toEqual(before.body.data.namespaces);
  });
});
