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

/** Secrets that may come from a file, as Docker and Kubernetes mount them: variable -> its _FILE. */
export const SECRET_FILE_VARIABLES = {
  KVC_ETCD_PASSWORD: "KVC_ETCD_PASSWORD_FILE",
  KVC_API_TOKENS: "KVC_API_TOKENS_FILE",
  KVC_READONLY_TOKENS: "KVC_READONLY_TOKENS_FILE",
  KVC_NAMESPACE_TOKENS: "KVC_NAMESPACE_TOKENS_FILE",
} as const;

/**
 * Returns the environment with every `KVC_X_FILE` replaced by `KVC_X` holding the file's
 * content (trailing newline dropped; token lists may be one entry a line). Setting both forms
 * is refused rather than guessing which one the operator meant.
 */
export function secretsFromFiles(
  env: Record<string, string | undefined>,
): Record<string, string | undefined> {
  const resolved = { ...env };
  for (const [key, fileKey] of Object.entries(SECRET_FILE_VARIABLES)) {
    const path = env[fileKey];
    if (!path) continue;
    if (env[key]) throw invalid(`set ${key} or ${fileKey}, not both`, fileKey);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw invalid(`cannot read ${fileKey} ${path}: ${errorMessage(err)}`, fileKey);
    }
    resolved[key] =
      key === "KVC_ETCD_PASSWORD"
        ? text.replace(/\r?\n$/, "")
        : text
            .split(/[\r\n,]+/)
            .map((s) => s.trim())
            .filter((s) => s !== "")
            .join(",");
    delete resolved[fileKey];
  }
  return resolved;
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
  return loadConfig(text, secretsFromFiles(env));
}
