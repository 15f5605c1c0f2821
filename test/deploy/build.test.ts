// `npm run build`, the way the Dockerfile runs it: the build stage's COPY lines are replayed
// into a temp directory (npm ci replaced by a link to this checkout's node_modules), its
// `npm run` steps run there, the runtime stage is assembled from what they produced, and the
// images' commands are started from it with plain `node` against real etcd.
import { type ChildProcess, spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharedEtcdEndpoints, uniquePrefix } from "../support/env.js";
import { freePort } from "../support/etcd.js";
import {
  commandWords,
  exec,
  parseCopy,
  parseDockerfile,
  ROOT,
  read,
  type Stage,
} from "./helpers.js";

const stages = parseDockerfile(read("deploy/docker/Dockerfile"));
const stage = (name: string) => stages.find((s) => s.name === name) as Stage;
const APP = "/app";
let ctx: string;
let buildDir: string;
let runtimeDir: string;
const env: Record<string, string> = {};
const buildLog: string[] = [];

function workdirOf(s: Stage): string {
  const w = s.instructions.filter((i) => i.keyword === "WORKDIR").at(-1)?.args;
  expect(w).toBe(APP);
  return w!;
}

/** `COPY a b ./` into `dir` (the stage's WORKDIR), sources from `from`. */
function replayCopy(args: string, sourceRoot: string, dir: string, sourceWorkdir?: string) {
  const copy = parseCopy(args);
  for (const src of copy.sources) {
    const from = sourceWorkdir
      ? join(sourceRoot, relative(sourceWorkdir, src))
      : join(sourceRoot, src);
    const dest = copy.dest.endsWith("/")
      ? join(dir, copy.dest, src.split("/").at(-1)!)
      : join(dir, copy.dest);
    mkdirSync(dirname(dest), { recursive: true });
    if (from.endsWith("node_modules")) symlinkSync(join(ROOT, "node_modules"), dest, "dir");
    else cpSync(from, dest, { recursive: true });
  }
}

beforeAll(async () => {
  ctx = mkdtempSync(join(tmpdir(), "kvc-image-"));
  buildDir = join(ctx, "build");
  runtimeDir = join(ctx, "runtime");
  mkdirSync(buildDir);
  mkdirSync(runtimeDir);

  const build = stage("build");
  workdirOf(build);
  for (const ins of build.instructions) {
    if (ins.keyword === "COPY") replayCopy(ins.args, ROOT, buildDir);
    if (ins.keyword !== "RUN") continue;
    for (const step of ins.args.split("&&").map((s) => s.trim())) {
      if (/^npm ci\b/.test(step)) {
        symlinkSync(join(ROOT, "node_modules"), join(buildDir, "node_modules"), "dir");
      } else if (/^npm run \S+$/.test(step)) {
        const out = await exec("npm", step.split(" ").slice(1), {
          cwd: buildDir,
          timeoutMs: 120_000,
        });
        buildLog.push(`$ ${step}\n${out.stdout}${out.stderr}`);
        if (out.code !== 0) throw new Error(`${step} failed:\n${out.stdout}\n${out.stderr}`);
      } else if (!/^npm prune\b/.test(step)) {
        // npm prune would prune the checkout's node_modules through the link: skipped.
        throw new Error(`the test does not know how to replay RUN step "${step}"`);
      }
    }
  }

  const runtime = stage("runtime");
  workdirOf(runtime);
  for (const ins of runtime.instructions) {
    if (ins.keyword === "COPY") {
      expect(parseCopy(ins.args).from).toBe("build");
      replayCopy(ins.args, buildDir, runtimeDir, APP);
    }
    if (ins.keyword === "ENV") {
      for (const m of ins.args.matchAll(/(\w+)=(\S+)/g)) env[m[1]!] = m[2]!;
    }
  }
}, 150_000);

afterAll(() => {
  if (ctx) rmSync(ctx, { recursive: true, force: true });
});

function jsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? jsFiles(p) : p.endsWith(".js") ? [p] : [];
  });
}

function startNode(args: string[], extraEnv: Record<string, string>) {
  const child = spawn(process.execPath, args, {
    cwd: runtimeDir,
    env: { PATH: process.env.PATH, ...env, ...extraEnv },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return { child, output: () => output, exited };
}

const imageCommand = (name: string): string[] => {
  const s = stage(name);
  const last = (kw: string) =>
    s.instructions
      .filter((i) => i.keyword === kw)
      .map((i) => commandWords(i.args))
      .at(-1) ?? [];
  return [...last("ENTRYPOINT"), ...last("CMD")];
};

describe("npm run build, as the Dockerfile runs it", () => {
  it("compiles lib/, functions/ and cron/ into dist/ with every relative import resolving", () => {
    const dist = join(runtimeDir, "dist");
    expect(readdirSync(dist).sort()).toEqual(expect.arrayContaining(["cron", "functions", "lib"]));
    expect(existsSync(join(dist, "test"))).toBe(false);
    const files = jsFiles(dist);
    expect(files.length).toBeGreaterThan(30);
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
        const target = resolve(dirname(file), m[1]!);
        expect(existsSync(target), `${relative(dist, file)} imports ${m[1]}`).toBe(true);
      }
    }
    // dist/**/*.js are ES modules because the image carries package.json.
    expect(JSON.parse(readFileSync(join(runtimeDir, "package.json"), "utf8")).type).toBe("module");
  });

  it("api image: `node dist/functions/node.js` serves the API from real etcd", async () => {
    const cmd = imageCommand("api");
    expect(cmd).toEqual(["node", "dist/functions/node.js"]);
    expect(existsSync(join(runtimeDir, cmd[1]!))).toBe(true);
    const port = await freePort();
    const proc = startNode(cmd.slice(1), {
      KVC_ETCD_ENDPOINTS: sharedEtcdEndpoints().join(","),
      KVC_ETCD_PREFIX: uniquePrefix("image"),
      KVC_HOST: "127.0.0.1",
      KVC_PORT: String(port),
    });
    let child: ChildProcess | undefined = proc.child;
    try {
      const base = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 15_000;
      let ready = false;
      while (!ready && Date.now() < deadline) {
        ready = (await fetch(`${base}/readyz`).catch(() => null))?.status === 200;
        if (!ready) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ready, proc.output()).toBe(true);
      const created = await fetch(`${base}/api/v1/namespaces`, {
        method: "POST",
        body: JSON.stringify({ namespace: "image" }),
        headers: { "content-type": "application/json" },
      });
      expect(created.status).toBe(201);
      // The console's script was bundled by the build: the image has no client sources.
      const prebuilt = join(runtimeDir, "dist/functions/ui/console.js");
      expect(existsSync(prebuilt)).toBe(true);
      const page = await (await fetch(`${base}/ui`)).text();
      const src = /src="(\/ui\/assets\/console\.[0-9a-f]{12}\.js)"/.exec(page)?.[1];
      const script = await (await fetch(`${base}${src}`)).text();
      expect(script).toBe(readFileSync(prebuilt, "utf8"));
      expect(existsSync(join(runtimeDir, "dist/functions/ui/client"))).toBe(false);
      proc.child.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
      child = undefined;
      expect(proc.output()).toMatch(/listening on http:\/\/127\.0\.0\.1:/);
    } finally {
      child?.kill("SIGKILL");
    }
  });

  it("probe image: `node dist/cron/probe.js` runs a round and exits 0", async () => {
    const cmd = imageCommand("probe");
    expect(cmd).toEqual(["node", "dist/cron/probe.js", "--for", "75s", "--every", "1s"]);
    // The image runs --for 75s; one round is enough here.
    const proc = startNode([cmd[1]!, "--once"], {
      KVC_ETCD_ENDPOINTS: sharedEtcdEndpoints().join(","),
      KVC_ETCD_PREFIX: uniquePrefix("image-probe"),
    });
    expect(await proc.exited).toBe(0);
    // A text line, or the message of a JSON log line.
    expect(proc.output()).toMatch(/probe: clusters 0, probed 0/);
  });
});
