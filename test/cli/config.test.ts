// Exit codes, controller lists and fallback, output formats, and `kvctl use`.
import { writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { freePort } from "../support/etcd.js";
import { type Controller, Kvctl, startController } from "./harness.js";

let controller: Controller;
let kvctl: Kvctl;
let dead: string;
/** Accepts connections and never answers. */
let silent: Server;
let silentUrl: string;
const sockets = new Set<Socket>();

beforeAll(async () => {
  controller = await startController({ label: "cli-conf" });
  kvctl = new Kvctl();
  dead = `http://127.0.0.1:${await freePort()}`;
  silent = createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
  });
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  const address = silent.address();
  silentUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  await kvctl.ok(["create", "namespace", "conf", "-H", controller.url]);
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  silent?.close();
  await controller?.close();
  kvctl?.cleanup();
});

describe("exit codes", () => {
  it("0 ok, 1 the server said no, 2 usage, 3 no controller", async () => {
    const H = ["-H", controller.url];
    expect((await kvctl.run(["list", "namespaces", ...H])).code).toBe(0);

    const no = await kvctl.run(["get", "cluster", "nope", "-n", "conf", ...H]);
    expect(no.code).toBe(1);
    expect(no.stderr).toMatch(/^error: .*nope.*not found/i);

    for (const args of [
      ["migrate", "slot", "99999", "--target", "1", "-n", "a", "-c", "b"],
      ["list", "clusters"],
      ["list", "shards", "-n", "conf"],
      ["frobnicate"],
      ["list", "widgets"],
      ["create", "cluster", "x", "-n", "conf"],
      ["list", "namespaces", "-o", "xml"],
    ]) {
      const r = await kvctl.run([...args, ...H]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(/error/);
      expect(r.stdout).toBe("");
    }
    const usage = await kvctl.run(["list", "clusters", ...H]);
    expect(usage.stderr).toMatch(/no namespace: pass -n\/--namespace NS/);

    const gone = await kvctl.run(["list", "namespaces", "-H", dead]);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toMatch(/^error: cannot reach any controller: .*ECONNREFUSED/);
  });

  it("--help, --version and no arguments are fine", async () => {
    expect(await kvctl.ok(["--version"])).toMatch(/^\d+\.\d+\.\d+/);
    expect(await kvctl.ok(["--help"])).toMatch(/^Usage: kvctl <command> \[flags\]/);
    // No command, nothing on stdin: the shell reads no line and leaves.
    expect(await kvctl.ok([])).toBe("");
    expect(await kvctl.ok(["migrate", "slot", "--help"])).toMatch(/--slot-only/);
    // Without the launcher's bundle cache, tsx runs the TypeScript directly.
    expect(await kvctl.ok(["--version"], { KVCTL_NO_BUNDLE: "1" })).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe("controllers", () => {
  it("tries the next controller of -H when one does not answer", async () => {
    const r = await kvctl.run(["list", "namespaces", "-v", "-H", `${dead},${controller.url}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("conf\n");
    expect(r.stderr).toMatch(
      new RegExp(`${dead} did not answer \\(ECONNREFUSED\\); trying the next`),
    );
  });

  it("reads the seed's ~/.kc_cli_config controllers list (host:port, no scheme)", async () => {
    const seed = new Kvctl();
    try {
      const live = controller.url.replace("http://", "");
      writeFileSync(
        join(seed.home, ".kc_cli_config"),
        `controllers:\n  - ${dead.replace("http://", "")}\n  - ${live}\n`,
      );
      expect(await seed.ok(["list", "namespaces"])).toBe("conf\n");
      const used = await seed.json(["use"]);
      expect(used.controllers).toEqual([dead, controller.url]);
      expect(used.controllers_from).toBe(join(seed.home, ".kc_cli_config"));
      // KVCTL_HOST wins over the file; -H wins over KVCTL_HOST.
      expect((await seed.json(["use"], { KVCTL_HOST: controller.url })).controllers).toEqual([
        controller.url,
      ]);
      expect(
        (await seed.run(["list", "namespaces", "-H", dead], { KVCTL_HOST: controller.url })).code,
      ).toBe(3);
    } finally {
      seed.cleanup();
    }
  });

  it("does not resend a change to the next controller after a timeout", async () => {
    const r = await kvctl.run([
      "create",
      "namespace",
      "twice",
      "--timeout",
      "0.5",
      "-H",
      `${silentUrl},${controller.url}`,
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no answer within 0.5s; the change may or may not have been made/);
    expect(await kvctl.ok(["list", "namespaces", "-H", controller.url])).toBe("conf\n");
    // A read is safe to send on.
    const read = await kvctl.run([
      "list",
      "namespaces",
      "--timeout",
      "0.5",
      "-H",
      `${silentUrl},${controller.url}`,
    ]);
    expect(read.code).toBe(0);
  });
});

describe("output", () => {
  it("-o json and -o yaml print the API's data", async () => {
    const H = ["-H", controller.url];
    expect(await kvctl.json(["list", "namespaces", ...H])).toEqual({ namespaces: ["conf"] });
    expect(parse(await kvctl.ok(["list", "namespaces", "-o", "yaml", ...H]))).toEqual({
      namespaces: ["conf"],
    });
    expect(await kvctl.json(["create", "namespace", "tmp", ...H])).toEqual({ namespace: "tmp" });
    expect(await kvctl.json(["delete", "namespace", "tmp", ...H])).toBeNull();
    const err = await kvctl.run(["get", "cluster", "x", "-n", "conf", "-o", "json", ...H]);
    expect(err.stdout).toBe("");
    expect(err.stderr).toMatch(/^error: /);
  });
});

describe("use", () => {
  it("stores the namespace and cluster; flags override; a new namespace drops the cluster", async () => {
    const env = { KVCTL_HOST: controller.url, KVCTL_CONFIG: join(kvctl.home, "ctx.yaml") };
    expect(await kvctl.ok(["use", "-n", "conf", "-c", "c0"], env)).toMatch(/^cluster: +c0$/m);
    const missing = await kvctl.run(["list", "shards"], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/c0/);
    const other = await kvctl.run(["list", "shards", "-n", "other"], env);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/no cluster/);
    expect(await kvctl.json(["list", "clusters"], env)).toEqual({ clusters: [] });
    expect((await kvctl.json(["use", "-n", "ns9"], env)).cluster).toBeNull();
    expect(await kvctl.json(["use", "--clear"], env)).toMatchObject({
      namespace: null,
      cluster: null,
    });
  });
});
