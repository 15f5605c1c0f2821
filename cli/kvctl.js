#!/usr/bin/env node
// kvctl's launcher: no build step. It bundles cli/main.ts with esbuild into a cache and runs
// the bundle, in this process (signals, stdio and the exit code are kvctl's own). The cache
// is used only while every file that went into it is unchanged (size and mtime), so an edit
// is picked up on the next run. If bundling is not possible, tsx runs the TypeScript as is.
// esbuild and tsx are resolved from this package: from a checkout (npx kvctl), or installed
// or linked with its dev dependencies.
import { createHash } from "node:crypto";
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const entry = join(root, "cli", "main.ts");

function cacheDirs() {
  const key = createHash("sha1").update(root).digest("hex").slice(0, 12);
  return [join(root, "node_modules", ".cache", "kvctl"), join(tmpdir(), `kvctl-cache-${key}`)];
}

/** The cached bundle, if every input is as it was when it was built. */
function fresh(dir) {
  try {
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    for (const [path, size, mtime] of manifest.inputs) {
      const s = statSync(join(root, path));
      if (s.size !== size || s.mtimeMs !== mtime) return undefined;
    }
    const bundle = join(dir, manifest.bundle);
    statSync(bundle);
    return bundle;
  } catch {
    return undefined;
  }
}

async function build(dir) {
  const { buildSync } = await import("esbuild");
  const result = buildSync({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    write: false,
    metafile: true,
    logLevel: "silent",
    // Bundled CommonJS packages require node built-ins.
    banner: {
      js: "import { createRequire as __kvctlRequire } from 'node:module'; const require = __kvctlRequire(import.meta.url);",
    },
  });
  const code = result.outputFiles[0].contents;
  const bundle = `kvctl-${createHash("sha1").update(code).digest("hex").slice(0, 16)}.mjs`;
  const inputs = Object.keys(result.metafile.inputs).map((path) => {
    const s = statSync(join(root, path));
    return [path, s.size, s.mtimeMs];
  });
  mkdirSync(dir, { recursive: true });
  // Bundle first, then the manifest that names it; each by an atomic rename.
  const tmp = join(dir, `.tmp-${process.pid}`);
  writeFileSync(tmp, code);
  renameSync(tmp, join(dir, bundle));
  writeFileSync(tmp, JSON.stringify({ bundle, inputs }));
  renameSync(tmp, join(dir, "manifest.json"));
  // Old bundles go once no kvctl started a moment ago can still be about to load them.
  for (const old of readdirSync(dir)) {
    const path = join(dir, old);
    if (
      old.startsWith("kvctl-") &&
      old !== bundle &&
      Date.now() - statSync(path).mtimeMs > 600_000
    ) {
      rmSync(path, { force: true });
    }
  }
  return join(dir, bundle);
}

async function bundled() {
  for (const dir of cacheDirs()) {
    const hit = fresh(dir);
    if (hit) return hit;
  }
  for (const dir of cacheDirs()) {
    try {
      return await build(dir);
    } catch {}
  }
  return undefined;
}

const bundle = process.env.KVCTL_NO_BUNDLE ? undefined : await bundled();
if (bundle) {
  await import(pathToFileURL(bundle).href);
} else {
  let tsx;
  try {
    tsx = await import("tsx/esm/api");
  } catch (err) {
    process.stderr.write(
      `kvctl: cannot load esbuild or tsx to run kvctl's TypeScript (${err.message}).\n` +
        "Install this package with its dev dependencies (npm install, npm link).\n",
    );
    process.exit(1);
  }
  tsx.register();
  await import(pathToFileURL(entry).href);
}
