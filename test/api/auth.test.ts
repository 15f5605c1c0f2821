import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../support/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    label: "auth",
    env: { KVC_API_TOKENS: "admin-1,admin-2", KVC_READONLY_TOKENS: "viewer" },
  });
});
afterAll(async () => h.close());

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("bearer tokens", () => {
  it("answers 401 without a token or with a wrong one", async () => {
    const missing = await h.request("GET", "/api/v1/namespaces");
    expect(missing.status).toBe(401);
    expect(missing.body.error.message).toMatch(/bearer token/);
    expect((await h.request("GET", "/api/v1/namespaces", undefined, bearer("nope"))).status).toBe(
      401,
    );
    expect(
      (await h.request("GET", "/api/v1/namespaces", undefined, { authorization: "Basic eDp5" }))
        .status,
    ).toBe(401);
  });

  it("lets a full token write and a read-only token only read", async () => {
    expect(
      (await h.request("POST", "/api/v1/namespaces", { namespace: "a" }, bearer("admin-2"))).status,
    ).toBe(201);
    expect((await h.request("GET", "/api/v1/namespaces", undefined, bearer("viewer"))).status).toBe(
      200,
    );
    const write = await h.request(
      "POST",
      "/api/v1/namespaces",
      { namespace: "b" },
      bearer("viewer"),
    );
    expect(write.status).toBe(403);
    expect(write.body.error.message).toMatch(/read-only/);
    expect(
      (await h.request("DELETE", "/api/v1/namespaces/a", undefined, bearer("viewer"))).status,
    ).toBe(403);
  });

  it("keeps /healthz open for load balancers", async () => {
    expect((await h.request("GET", "/healthz")).status).toBe(200);
    expect((await h.request("GET", "/readyz")).status).toBe(200);
  });
});
