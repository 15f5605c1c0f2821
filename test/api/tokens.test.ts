// Named, namespace-scoped and file-held tokens, and the audit trail, through the real app.
import { createHash } from "node:crypto";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../lib/log.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import type { SimNode } from "../support/kvrocks-sim/server.js";

// Every secret the process knows; none may ever appear in a log line.
const ADMIN = "root-admin-secret-0001";
const BARE = "bare-admin-secret-0002";
const VIEWER = "viewer-secret-0003";
const TEAM_A_1 = "team-a-secret-0004";
const TEAM_A_2 = "team-a-secret-0005";
const TEAM_B = "team-b-secret-0006";
const FILE_OPS = "file-ops-secret-0007";
const FILE_HASHED = "file-hashed-secret-0008";
const FILE_READER = "file-reader-secret-0009";
const ETCD_PASSWORD = "etcd-password-secret-0010";
const NODE_PASSWORD = "node-password-secret-0011";
const SECRETS = [
  ADMIN,
  BARE,
  VIEWER,
  TEAM_A_1,
  TEAM_A_2,
  TEAM_B,
  FILE_OPS,
  FILE_HASHED,
  FILE_READER,
  ETCD_PASSWORD,
  NODE_PASSWORD,
];

const logText: string[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    logText.push(chunk.toString());
    done();
  },
});
const logLines = () =>
  logText
    .join("")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const dir = mkdtempSync(join(tmpdir(), "kvc-tokens-"));
const tokensFile = join(dir, "tokens.yaml");
const sha = (t: string) => createHash("sha256").update(t).digest("hex");

/** Replaces the file the way editors and config management do: write aside, rename over. */
function writeTokensFile(text: string) {
  const aside = `${tokensFile}.tmp`;
  writeFileSync(aside, text);
  renameSync(aside, tokensFile);
}

const fileWithAll = `
tokens:
  - name: ops
    token: ${FILE_OPS}
    role: write
  - name: hashed
    sha256: ${sha(FILE_HASHED)}
    role: write
    namespaces: [team-b]
  - name: file-reader
    token: ${FILE_READER}
    role: read
`;

let h: Harness;
let nodes: SimNode[];

beforeAll(async () => {
  writeTokensFile(fileWithAll);
  h = await startHarness({
    label: "tokens",
    log: createLogger("debug", sink),
    env: {
      KVC_API_TOKENS: `root:${ADMIN},${BARE}`,
      KVC_READONLY_TOKENS: VIEWER,
      KVC_NAMESPACE_TOKENS: `team-a=${TEAM_A_1},team-a=${TEAM_A_2},team-b=${TEAM_B}`,
      KVC_TOKENS_FILE: tokensFile,
      KVC_ETCD_PASSWORD: ETCD_PASSWORD,
    },
  });
  nodes = await h.startNodes(8, { password: NODE_PASSWORD });
  for (const namespace of ["team-a", "team-b", "team-c"]) {
    expect((await call(ADMIN, "POST", "/api/v1/namespaces", { namespace })).status).toBe(201);
  }
}, 30_000);

afterAll(async () => {
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

function call(token: string, method: string, path: string, body?: unknown) {
  return h.request(method, path, body, { authorization: `Bearer ${token}` });
}

function createCluster(token: string, ns: string, name: string, clusterNodes: SimNode[]) {
  return call(token, "POST", `/api/v1/namespaces/${ns}/clusters`, {
    name,
    nodes: clusterNodes.map((n) => n.addr),
    replicas: 1,
    password: NODE_PASSWORD,
  });
}

describe("namespace tokens", () => {
  it("read and change their own namespace's clusters", async () => {
    const created = await createCluster(TEAM_A_1, "team-a", "c1", nodes.slice(0, 2));
    expect(created.status).toBe(201);
    // Both tokens of the namespace work.
    const read = await call(TEAM_A_2, "GET", "/api/v1/namespaces/team-a/clusters/c1");
    expect(read.status).toBe(200);
    expect(read.body.data.cluster.name).toBe("c1");
    expect((await call(TEAM_A_1, "GET", "/api/v1/namespaces/team-a/clusters")).status).toBe(200);
    const shard = await call(TEAM_A_2, "POST", "/api/v1/namespaces/team-a/clusters/c1/shards", {
      nodes: [nodes[2]!.addr],
      password: NODE_PASSWORD,
    });
    expect(shard.status).toBe(201);
    const added = (await call(TEAM_A_1, "GET", "/api/v1/namespaces/team-a/clusters/c1/shards")).body
      .data.shards.length;
    const removed = await call(
      TEAM_A_1,
      "DELETE",
      `/api/v1/namespaces/team-a/clusters/c1/shards/${added - 1}`,
    );
    expect(removed.status, removed.text).toBe(204);
  });

  it("are refused with the reason in every other namespace", async () => {
    for (const [method, path] of [
      ["GET", "/api/v1/namespaces/team-b/clusters"],
      ["GET", "/api/v1/namespaces/team-b"],
      ["POST", "/api/v1/namespaces/team-c/clusters"],
      ["DELETE", "/api/v1/namespaces/team-b/clusters/x"],
    ] as const) {
      const answer = await call(
        TEAM_A_1,
        method,
        path,
        method === "POST" ? { name: "x" } : undefined,
      );
      expect(answer.status, `${method} ${path}`).toBe(403);
      expect(answer.body.error.message).toMatch(/limited to namespace team-a/);
    }
  });

  it("may neither create nor delete namespaces", async () => {
    const create = await call(TEAM_A_1, "POST", "/api/v1/namespaces", { namespace: "mine" });
    expect(create.status).toBe(403);
    expect(create.body.error.message).toMatch(
      /limited to namespace team-a and may not create or delete namespaces/,
    );
    const remove = await call(TEAM_A_1, "DELETE", "/api/v1/namespaces/team-a");
    expect(remove.status).toBe(403);
    expect((await call(ADMIN, "GET", "/api/v1/namespaces/team-a")).status).toBe(200);
  });

  it("list only the namespaces they may see", async () => {
    const mine = await call(TEAM_A_2, "GET", "/api/v1/namespaces");
    expect(mine.status).toBe(200);
    expect(mine.body.data.namespaces).toEqual(["team-a"]);
    const all = await call(BARE, "GET", "/api/v1/namespaces");
    expect(all.body.data.namespaces).toEqual(["team-a", "team-b", "team-c"]);
  });

  it("may not read metrics, which cover every namespace", async () => {
    expect((await call(TEAM_B, "GET", "/metrics")).status).toBe(403);
    expect(
      (await h.request("GET", "/metrics", undefined, { authorization: `Bearer ${VIEWER}` })).status,
    ).toBe(200);
  });
});

describe("GET /api/v1/token", () => {
  it("tells any valid token who it is and what it may do, so a console can adapt", async () => {
    const team = await call(TEAM_A_1, "GET", "/api/v1/token");
    expect(team.status).toBe(200);
    expect(team.body.data).toEqual({
      name: expect.stringMatching(/^team-a-token-/),
      role: "write",
      namespaces: ["team-a"],
      read_only: false,
      may_manage_namespaces: false,
    });
    expect((await call(VIEWER, "GET", "/api/v1/token")).body.data).toMatchObject({
      role: "read",
      namespaces: null,
      read_only: true,
    });
    expect((await call(ADMIN, "GET", "/api/v1/token")).body.data).toMatchObject({
      name: "root",
      may_manage_namespaces: true,
    });
    expect((await h.request("GET", "/api/v1/token")).status).toBe(401);
  });
});

describe("read-only and admin tokens", () => {
  it("keep their behaviour: read-only reads everything and changes nothing", async () => {
    expect((await call(VIEWER, "GET", "/api/v1/namespaces/team-b/clusters")).status).toBe(200);
    const write = await call(VIEWER, "POST", "/api/v1/namespaces", { namespace: "v" });
    expect(write.status).toBe(403);
    expect(write.body.error.message).toMatch(/read-only/);
    expect((await call(VIEWER, "DELETE", "/api/v1/namespaces/team-c")).status).toBe(403);
  });

  it("answer 401 to a wrong or missing token", async () => {
    expect((await call("not-a-token", "GET", "/api/v1/namespaces")).status).toBe(401);
    expect((await h.request("GET", "/api/v1/namespaces")).status).toBe(401);
  });
});

describe("tokens file", () => {
  it("grants each entry its role and namespaces, tokens given as SHA-256 included", async () => {
    expect((await call(FILE_HASHED, "GET", "/api/v1/namespaces/team-b/clusters")).status).toBe(200);
    expect((await call(FILE_HASHED, "GET", "/api/v1/namespaces/team-a/clusters")).status).toBe(403);
    expect(
      (await call(FILE_READER, "POST", "/api/v1/namespaces/team-c/clusters", { name: "x" })).status,
    ).toBe(403);
    // Role write changes clusters anywhere but does not manage namespaces.
    const created = await createCluster(FILE_OPS, "team-c", "c3", nodes.slice(3, 5));
    expect(created.status).toBe(201);
    const ns = await call(FILE_OPS, "POST", "/api/v1/namespaces", { namespace: "ops-ns" });
    expect(ns.status).toBe(403);
    expect(ns.body.error.message).toMatch(/needs role admin/);
  });

  it("refuses a removed token within 2 s, without a restart", async () => {
    expect((await call(FILE_OPS, "GET", "/api/v1/namespaces")).status).toBe(200);
    writeTokensFile(fileWithAll.replace(/ {2}- name: ops\n.*\n.*\n/, ""));
    const removedAt = Date.now();
    await eventually(
      async () => (await call(FILE_OPS, "GET", "/api/v1/namespaces")).status === 401,
      2000,
      50,
    );
    expect(Date.now() - removedAt).toBeLessThan(2500);
    // The others in the file still work, and so do the environment's.
    expect((await call(FILE_READER, "GET", "/api/v1/namespaces")).status).toBe(200);
    expect((await call(ADMIN, "GET", "/api/v1/namespaces")).status).toBe(200);
  });

  it("adds a token written into the file", async () => {
    writeTokensFile(`${fileWithAll}  - name: late\n    token: ${FILE_OPS}-late\n    role: read\n`);
    await eventually(
      async () => (await call(`${FILE_OPS}-late`, "GET", "/api/v1/namespaces")).status === 200,
      5000,
      50,
    );
  });

  it("keeps the last good tokens when the file becomes invalid, and says so", async () => {
    writeTokensFile(
      `tokens:\n  - name: broken\n    token: ${FILE_OPS}-broken\n    role: superuser\n`,
    );
    // The file is looked at when a request comes in.
    await eventually(
      async () =>
        (await call(FILE_READER, "GET", "/api/v1/namespaces")).status === 200 &&
        logLines().some(
          (l) => l.msg === "tokens file invalid; keeping the tokens last read from it",
        ),
      5000,
      50,
    );
    expect((await call(FILE_READER, "GET", "/api/v1/namespaces")).status).toBe(200);
    expect((await call(`${FILE_OPS}-broken`, "GET", "/api/v1/namespaces")).status).toBe(401);
    writeTokensFile(fileWithAll);
  });
});

describe("audit trail with odd paths", () => {
  it("logs a malformed escape in the path as it came, and answers without a 5xx", async () => {
    const before = logLines().length;
    const answer = await call(ADMIN, "DELETE", "/api/v1/namespaces/team-a/clusters/%/shards/0");
    expect(answer.status).toBeLessThan(500);
    const line = logLines()
      .slice(before)
      .find((l) => l.audit === true);
    expect(line).toMatchObject({ cluster: "%", namespace: "team-a", status: answer.status });
  });
});

describe("audit trail", () => {
  it("logs one line per mutating request naming the token, route, namespace, cluster, status and version", async () => {
    const before = logLines().length;
    const created = await createCluster(TEAM_B, "team-b", "audited", nodes.slice(5, 7));
    expect(created.status).toBe(201);
    const refused = await call(TEAM_B, "DELETE", "/api/v1/namespaces/team-a/clusters/c1");
    expect(refused.status).toBe(403);
    await call(ADMIN, "GET", "/api/v1/namespaces/team-b/clusters/audited");
    const audit = logLines()
      .slice(before)
      .filter((l) => l.audit === true);
    expect(audit).toHaveLength(2);
    expect(audit[0]).toMatchObject({
      token_name: expect.stringMatching(/^team-b-token-[0-9a-f]{8}$/),
      method: "POST",
      route: "/api/v1/namespaces/:ns/clusters",
      namespace: "team-b",
      cluster: null,
      status: 201,
      version: created.body.data.cluster.version,
    });
    expect(audit[1]).toMatchObject({
      token_name: audit[0]!.token_name,
      method: "DELETE",
      route: "/api/v1/namespaces/:ns/clusters/:cluster",
      namespace: "team-a",
      cluster: "c1",
      status: 403,
      version: null,
    });
  });

  it("records the version a change produced when the answer does not carry the cluster", async () => {
    const before = logLines().length;
    const added = await call(ADMIN, "POST", "/api/v1/namespaces/team-b/clusters/audited/shards", {
      nodes: [nodes[7]!.addr],
      password: NODE_PASSWORD,
    });
    expect(added.status).toBe(201);
    const stored = await h.cluster("team-b", "audited");
    const line = logLines()
      .slice(before)
      .find((l) => l.audit === true);
    expect(line).toMatchObject({ token_name: "root", cluster: "audited", version: stored.version });
  });

  it("never logs a token or a password, over this whole file's run", () => {
    const text = logText.join("");
    expect(text.length).toBeGreaterThan(1000);
    for (const secret of SECRETS) expect(text).not.toContain(secret);
    expect(text).not.toContain(sha(FILE_HASHED));
  });
});
