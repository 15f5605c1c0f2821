// `-c/--config FILE` (or KVC_CONFIG) plus the environment; shared by every entry point.
import { readFileSync } from "node:fs";
import { errorMessage, invalid } from "../errors.js";
import { type Config, loadConfig } from "./index.js";

export function configPathFromArgs(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): string | undefined {
  const at = argv.findIndex((a) => a === "-c" || a === "--config");
  if (at !== -1) return argv[at + 1];
  const inline = argv.find((a) => a.startsWith("--config="));
  return inline ? inline.slice("--config=".length) : env.KVC_CONFIG || undefined;
}

export function readConfig(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): Config {
  const path = configPathFromArgs(argv, env);
  let text: string | undefined;
  if (path !== undefined) {
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw invalid(`cannot read config file ${path}: ${errorMessage(err)}`, "config");
    }
  }
  return loadConfig(text, env);
}
