// `npm run bundle`: one self-contained directory per handler, in bundle/<name>/.
//   bundle/api/     functions/lambda.ts (API Gateway HTTP API -> the Hono app)
//   bundle/probe/   cron/lambda.ts      (EventBridge schedule -> one probe round)
//   bundle/server/  functions/node.ts   (`node bundle/server/index.mjs`: the HTTP server)
// Each holds three files: app.cjs (the code and every dependency, CommonJS), app.cache (V8's
// code cache for it) and index.mjs (the entry: Lambda handler `index.handler`, or the server).
//
// Why: a cold start is what every FaaS user pays, and most of it was V8 compiling 1.7 MB of
// JavaScript and etcd3 building its gRPC codecs from `.proto` text. So the codecs are generated
// here, once, as source code (deploy/etcd-proto.ts); packages the request path does not use are
// loaded at their first use (LAZY_PACKAGES); only the parts of zod we call are bundled; and the
// entry compiles app.cjs with a code cache made here by running the bundle's start-up.
// A cache from another V8 (another Node patch release) is rejected by V8 and the code is
// compiled as usual: slower, never wrong. ESM code cannot take a cache on Node 20, hence CJS.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";
import { buildConsoleScript } from "../functions/ui/console-script.js";
import { etcdProtoModule, protoLoaderDir } from "./etcd-proto.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export const HANDLERS = {
  api: "functions/lambda.ts",
  probe: "cron/lambda.ts",
  // Not a Lambda: the HTTP server as one directory, which starts about twice as fast as dist/.
  server: "functions/node.ts",
} as const;

// The sources are ES modules; in CommonJS `import.meta.url` is this file's URL.
const BANNER = 'var __kvc_import_meta_url = require("node:url").pathToFileURL(__filename).href;';

// biome-ignore lint/suspicious/noTemplateCurlyInString: etcd3's source text, matched as it is
const ETCD_PROTO_LOAD = "(0, proto_loader_1.loadSync)(`${__dirname}/../proto/rpc.proto`, {";
const PROTO_LOADER_REQUIRE = 'require("@grpc/proto-loader")';

const rootRequire = createRequire(join(root, "package.json"));

const ETCD_PROTO_MODULE = "kvc-etcd-proto";

/** etcd3 loads deploy/etcd-proto.ts's module in place of parsing its `.proto` files at start. */
function etcdProtoInlined(): Plugin {
  const contents = etcdProtoModule(root);
  return {
    name: "etcd3-proto-inlined",
    setup(b) {
      b.onLoad({ filter: /[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/ }, (args) => {
        const source = readFileSync(args.path, "utf8");
        if (!source.includes(ETCD_PROTO_LOAD) || !source.includes(PROTO_LOADER_REQUIRE)) {
          throw new Error(
            `${args.path} no longer loads its .proto as deploy/bundle.ts expects; update it for this etcd3 version`,
          );
        }
        return {
          contents: source
            .replace(PROTO_LOADER_REQUIRE, `require("${ETCD_PROTO_MODULE}")`)
            .replace(ETCD_PROTO_LOAD, "(0, proto_loader_1.loadSync)(null, {"),
          loader: "js",
          resolveDir: dirname(args.path),
        };
      });
      b.onResolve({ filter: new RegExp(`^${ETCD_PROTO_MODULE}$`) }, () => ({
        path: ETCD_PROTO_MODULE,
        namespace: ETCD_PROTO_MODULE,
      }));
      b.onLoad({ filter: /.*/, namespace: ETCD_PROTO_MODULE }, () => ({
        contents,
        loader: "js",
        // protobufjs as proto-loader would have it.
        resolveDir: protoLoaderDir(root),
      }));
    },
  };
}

/**
 * Packages the request path never uses, loaded at their first use instead of at start: a
 * stand-in module whose exports are getters that require the package. Our sources import only
 * these names (checked here: a name the package lacks fails the build), and only use them in
 * calls made after start-up (a node connection, a YAML file), so nothing changes but when the
 * package's own start-up runs. ioredis alone builds a method for each of 240 commands.
 */
const LAZY_PACKAGES: Record<string, readonly string[]> = {
  ioredis: ["Redis", "ReplyError"],
  yaml: ["parse", "parseDocument", "LineCounter"],
};

function isOurSource(path: string): boolean {
  const rel = relative(root, path);
  return !rel.startsWith("..") && !rel.split(/[\\/]/).includes("node_modules");
}

function lazyPackages(): Plugin {
  const LAZY = "kvc-lazy";
  return {
    name: "lazy-packages",
    setup(b) {
      const names = Object.keys(LAZY_PACKAGES).join("|");
      b.onResolve({ filter: new RegExp(`^(${names})$`) }, (args) =>
        args.namespace === "file" && isOurSource(args.importer)
          ? { path: args.path, namespace: LAZY }
          : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: LAZY }, (args) => {
        const exported = LAZY_PACKAGES[args.path]!;
        const real = rootRequire(args.path) as Record<string, unknown>;
        const missing = exported.filter((name) => real[name] === undefined);
        if (missing.length > 0) throw new Error(`${args.path} has no ${missing.join(", ")}`);
        return {
          contents: [
            "let real;",
            `const load = () => (real ??= require(${JSON.stringify(args.path)}));`,
            ...exported.map(
              (name) =>
                `Object.defineProperty(exports, ${JSON.stringify(name)}, { enumerable: true, get: () => load()[${JSON.stringify(name)}] });`,
            ),
          ].join("\n"),
          loader: "js",
          resolveDir: root,
        };
      });
      // Any other import of these names from our sources would load the package at start.
      b.onLoad({ filter: /\.ts$/ }, (args) => {
        if (!isOurSource(args.path)) return undefined;
        const source = readFileSync(args.path, "utf8");
        for (const [pkg, allowed] of Object.entries(LAZY_PACKAGES)) {
          for (const m of source.matchAll(
            new RegExp(`^import \\{([^}]*)\\} from "${pkg}";`, "gm"),
          )) {
            const used = m[1]!
              .split(",")
              .map(
                (n) =>
                  n
                    .trim()
                    .replace(/^type\s+/, "")
                    .split(/\s+as\s+/)[0]!,
              )
              .filter((n) => n !== "" && !m[1]!.includes(`type ${n}`));
            const extra = used.filter((n) => !allowed.includes(n));
            if (extra.length > 0) {
              throw new Error(
                `${relative(root, args.path)} imports ${extra.join(", ")} from ${pkg}: add it to LAZY_PACKAGES in deploy/bundle.ts`,
              );
            }
          }
        }
        // zod's namespace as `import * as z`: the bundle then holds only what we call (about
        // 110 kB instead of 470 kB with every locale, all of it run at start). \`{ z }\` is the
        // same namespace object, which the bundler must keep whole.
        return {
          contents: source.replace(/^import \{ z \} from "zod";$/m, 'import * as z from "zod";'),
          loader: "ts",
        };
      });
    },
  };
}

/**
 * The entry: compiles app.cjs with the code cache beside it and runs it as a CommonJS module.
 * `exportsHandler`: re-export its `handler` (a Lambda entry).
 */
function entrySource(exportsHandler: boolean): string {
  return [
    'import { existsSync, readFileSync } from "node:fs";',
    'import Module from "node:module";',
    'import { dirname, join } from "node:path";',
    'import { fileURLToPath } from "node:url";',
    'import { Script } from "node:vm";',
    "const dir = dirname(fileURLToPath(import.meta.url));",
    'const file = join(dir, "app.cjs");',
    'const cacheFile = join(dir, "app.cache");',
    "const cachedData = existsSync(cacheFile) ? readFileSync(cacheFile) : undefined;",
    'const script = new Script(Module.wrap(readFileSync(file, "utf8")), { filename: file, cachedData });',
    "const mod = { exports: {} };",
    "script.runInThisContext()(mod.exports, Module.createRequire(file), mod, file, dir);",
    exportsHandler ? "export const handler = mod.exports.handler;" : "",
  ].join("\n");
}

/**
 * Runs the bundle's start-up in a child (etcd pointed at a closed port, so it reaches no one)
 * and writes the code cache of everything it compiled. Module start-up is all of a cold
 * start but the first request; a cache taken after it holds the functions it ran.
 */
function writeCodeCache(dir: string): void {
  const warm = [
    'const { readFileSync, writeFileSync } = require("node:fs");',
    'const { wrap, createRequire } = require("node:module");',
    'const { join } = require("node:path");',
    'const { Script } = require("node:vm");',
    "const dir = process.argv[1];",
    'const file = join(dir, "app.cjs");',
    'const script = new Script(wrap(readFileSync(file, "utf8")), { filename: file });',
    "const exit = process.exit;",
    // The entry may give up on the unreachable etcd and exit: the warm-up decides when.
    "process.exit = () => undefined;",
    "const mod = { exports: {} };",
    "script.runInThisContext()(mod.exports, createRequire(file), mod, file, dir);",
    "setTimeout(() => {",
    '  writeFileSync(join(dir, "app.cache"), script.createCachedData());',
    "  exit(0);",
    "}, 300);",
  ].join("\n");
  const run = spawnSync(process.execPath, ["-e", warm, dir], {
    env: {
      PATH: process.env.PATH,
      KVC_ETCD_ENDPOINTS: "127.0.0.1:9",
      KVC_PORT: "0",
      KVC_LOG_LEVEL: "silent",
      KVC_ETCD_TIMEOUT_MS: "100",
    },
    encoding: "utf8",
    timeout: 30_000,
  });
  if (run.status !== 0) {
    throw new Error(`code cache for ${dir} not made (${run.status}): ${run.stderr}`);
  }
}

export interface BundleResult {
  name: string;
  dir: string;
  file: string;
  bytes: number;
  /** Everything in the directory: entry, code and code cache. */
  dirBytes: number;
}

function dirSize(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? dirSize(path) : statSync(path).size;
  }
  return total;
}

export async function bundleAll(outRoot = join(root, "bundle")): Promise<BundleResult[]> {
  const results: BundleResult[] = [];
  // The console's browser script, built now: a bundle ships no sources to build it from.
  const consoleJs = await buildConsoleScript();
  for (const [name, entry] of Object.entries(HANDLERS)) {
    const dir = join(outRoot, name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    await build({
      absWorkingDir: root,
      entryPoints: [join(root, entry)],
      outfile: join(dir, "app.cjs"),
      bundle: true,
      platform: "node",
      format: "cjs",
      target: "node20",
      minify: true,
      // Readable names in stack traces for a few kB.
      keepNames: true,
      legalComments: "eof",
      banner: { js: BANNER },
      plugins: [etcdProtoInlined(), lazyPackages()],
      define: {
        __KVC_CONSOLE_JS__: JSON.stringify(consoleJs),
        "import.meta.url": "__kvc_import_meta_url",
      },
      // Only a server without a built-in script loads esbuild, and a bundle has one.
      external: ["esbuild"],
      logLevel: "warning",
    });
    const file = join(dir, "index.mjs");
    writeFileSync(file, entrySource(name !== "server"));
    writeCodeCache(dir);
    results.push({
      name,
      dir,
      file,
      bytes: statSync(join(dir, "app.cjs")).size,
      dirBytes: dirSize(dir),
    });
  }
  return results;
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(2)} MB`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const results = await bundleAll();
  for (const r of results) {
    console.log(
      `${relative(root, r.file).padEnd(24)} ${mb(r.bytes).padStart(9)}  (with its code cache: ${mb(r.dirBytes)})  ${r.name === "server" ? "run: node index.mjs" : "handler: index.handler"}`,
    );
  }
}
