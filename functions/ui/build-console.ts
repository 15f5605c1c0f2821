// `tsx functions/ui/build-console.ts OUT`: writes the console's bundled script, for a server
// run from compiled files that ship no client sources (npm run build).
import { writeFileSync } from "node:fs";
import { buildConsoleScript } from "./console-script.js";

const out = process.argv[2];
if (!out) {
  console.error("usage: build-console.ts OUT.js");
  process.exit(2);
}
writeFileSync(out, await buildConsoleScript());
