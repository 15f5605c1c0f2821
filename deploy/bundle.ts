// `npm run bundle`: one self-contained file per AWS Lambda handler, in bundle/<name>/.
//   bundle/api/index.mjs    functions/lambda.ts (API Gateway HTTP API -> the Hono app)
//   bundle/probe/index.mjs  cron/lambda.ts      (EventBridge schedule -> one probe round)
//   bundle/server/index.mjs functions/node.ts   (`node bundle/server/index.mjs`: the HTTP server)
// Each directory is a Lambda code package on its own (handler `index.handler`): etcd3 reads its
// gRPC `.proto` files at run time, so they are copied beside the bundle as proto/ and etcd3's
// lookup (`${__dirname}/../proto/rpc.proto`) is rewritten to `${__dirname}/proto/rpc.proto`.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";
import { buildConsoleScript } from "../functions/ui/console-script.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export const HANDLERS = {
  api: "functions/lambda.ts",
  probe: "cron/lambda.ts",
  // Not a Lambda: the HTTP server as one file, which starts about twice as fast as dist/.
  server: "functions/node.ts",
} as const;

// ESM output, but the bundled dependencies are CommonJS: give them require and __dirname.
const BANNER = [
  'import { createRequire as __kvcCreateRequire } from "node:module";',
  'import { fileURLToPath as __kvcFileURLToPath } from "node:url";',
  'import { dirname as __kvcDirname } from "node:path";',
  "const require = __kvcCreateRequire(import.meta.url);",
  "const __filename = __kvcFileURLToPath(import.meta.url);",
  "const __dirname = __kvcDirname(__filename);",
].join("\n");

const ETCD_PROTO_LOOKUP = "/../proto/rpc.proto";

/** Points etcd3's run-time `.proto` lookup at proto/ beside the bundle. */
const etcdProtoBesideBundle: Plugin = {
  name: "etcd3-proto-beside-bundle",
  setup(b) {
    b.onLoad({ filter: /[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/ }, (args) => {
      const source = readFileSync(args.path, "utf8");
      if (!source.includes(ETCD_PROTO_LOOKUP)) {
        throw new Error(
          `${args.path} no longer loads ${ETCD_PROTO_LOOKUP}; update deploy/bundle.ts for this etcd3 version`,
        );
      }
      return {
        contents: source.replace(ETCD_PROTO_LOOKUP, "/proto/rpc.proto"),
        loader: "js",
      };
    });
  },
};

function etcdProtoDir(): string {
  // etcd3 exports only its main file; its proto/ directory sits beside lib/.
  const require = createRequire(join(root, "package.json"));
  return join(dirname(require.resolve("etcd3")), "..", "proto");
}

export interface BundleResult {
  name: string;
  dir: string;
  file: string;
  bytes: number;
  /** Everything in the directory: the bundle plus proto/. */
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
  const protoDir = etcdProtoDir();
  const results: BundleResult[] = [];
  // The console's browser script, built now: a bundle ships no sources to build it from.
  const consoleJs = await buildConsoleScript();
  for (const [name, entry] of Object.entries(HANDLERS)) {
    const dir = join(outRoot, name);
    rmSync(dir, { recursive: true, force: true });
    const file = join(dir, "index.mjs");
    await build({
      absWorkingDir: root,
      entryPoints: [join(root, entry)],
      outfile: file,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      minify: true,
      // Readable names in stack traces for a few kB.
      keepNames: true,
      legalComments: "eof",
      banner: { js: BANNER },
      plugins: [etcdProtoBesideBundle],
      define: { __KVC_CONSOLE_JS__: JSON.stringify(consoleJs) },
      // Only a server without a built-in script loads esbuild, and a bundle has one.
      external: ["esbuild"],
      logLevel: "warning",
    });
    mkdirSync(join(dir, "proto"), { recursive: true });
    for (const proto of readdirSync(protoDir).filter((f) => f.endsWith(".proto"))) {
      copyFileSync(join(protoDir, proto), join(dir, "proto", proto));
    }
    results.push({ name, dir, file, bytes: statSync(file).size, dirBytes: dirSize(dir) });
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
      `${relative(root, r.file).padEnd(24)} ${mb(r.bytes).padStart(9)}  (with proto/: ${mb(r.dirBytes)})  ${r.name === "server" ? "run: node index.mjs" : "handler: index.handler"}`,
    );
  }
}
