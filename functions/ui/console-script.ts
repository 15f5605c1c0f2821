// The console's browser code is TypeScript under functions/ui/client/, bundled by esbuild into
// one script when first served (once per process). Packaged servers carry the script built at
// packaging time instead, since they ship no sources: `npm run bundle` inlines it (define
// __KVC_CONSOLE_JS__), `npm run build` writes it beside the compiled module as console.js (build-console.ts).
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

declare const __KVC_CONSOLE_JS__: string | undefined;

export const CLIENT_ENTRY = fileURLToPath(new URL("./client/main.ts", import.meta.url));
const PREBUILT = fileURLToPath(new URL("./console.js", import.meta.url));

/** Bundles the client sources now (esbuild, loaded only when needed). */
export async function buildConsoleScript(entry = CLIENT_ENTRY): Promise<string> {
  const { build } = await import("esbuild");
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    legalComments: "none",
    charset: "utf8",
    logLevel: "silent",
  });
  const out = result.outputFiles[0];
  if (!out) throw new Error("esbuild produced no console script");
  return out.text;
}

let script: Promise<string> | undefined;

export function consoleScript(): Promise<string> {
  script ??= (async () => {
    if (typeof __KVC_CONSOLE_JS__ === "string") return __KVC_CONSOLE_JS__;
    if (existsSync(PREBUILT)) return readFileSync(PREBUILT, "utf8");
    return buildConsoleScript();
  })();
  // A failed build is retried on the next request rather than remembered.
  script.catch(() => {
    script = undefined;
  });
  return script;
}
