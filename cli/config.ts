// Where kvctl finds its controllers, token and current namespace/cluster.
//
// Controllers, first match wins: -H/--host, KVCTL_HOST, `controllers:` in the kvctl file,
// `controllers:` in the seed's ~/.kc_cli_config, then http://127.0.0.1:9379. Every source
// may list several; the next one is tried when a controller does not answer.
// The kvctl file is $KVCTL_CONFIG or ~/.kvctl.yaml; `kvctl use` writes its namespace/cluster.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { UsageError } from "./errors.js";

export const DEFAULT_CONTROLLER = "http://127.0.0.1:9379";
export const DEFAULT_TIMEOUT_SECONDS = 15;

export interface KvctlFile {
  namespace?: string;
  cluster?: string;
  controllers?: string[];
  token?: string;
}

export interface Settings {
  controllers: string[];
  /** Where the list came from, for `kvctl use` and error messages. */
  controllersFrom: string;
  token: string | undefined;
  timeoutMs: number;
  file: KvctlFile;
  filePath: string;
}

type Env = Record<string, string | undefined>;

export function kvctlFilePath(env: Env): string {
  return env.KVCTL_CONFIG || join(homedir(), ".kvctl.yaml");
}

export function seedFilePath(): string {
  return join(homedir(), ".kc_cli_config");
}

function readYaml(path: string): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  let value: unknown;
  try {
    value = parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new UsageError(`${path} should be a YAML mapping`);
  }
  return value as Record<string, unknown>;
}

function stringList(value: unknown, what: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const items = Array.isArray(value) ? value : String(value).split(",");
  const list = items.map((v) => String(v).trim()).filter((v) => v !== "");
  if (list.length === 0) throw new UsageError(`${what}: no controller address given`);
  return list;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

export function readKvctlFile(path: string): KvctlFile {
  const raw = readYaml(path) ?? {};
  return {
    namespace: optionalString(raw.namespace),
    cluster: optionalString(raw.cluster),
    controllers: stringList(raw.controllers, path),
    token: optionalString(raw.token),
  };
}

/** Keeps the file's other keys; removes keys set to undefined. */
export function writeKvctlFile(path: string, change: Partial<KvctlFile>): KvctlFile {
  const raw = readYaml(path) ?? {};
  for (const [key, value] of Object.entries(change)) {
    if (value === undefined) delete raw[key];
    else raw[key] = value;
  }
  writeFileSync(path, stringify(raw), { mode: 0o600 });
  return readKvctlFile(path);
}

/** `host:port`, `http://host:port/`, `https://h/api/v1` → a base URL without /api/v1. */
export function normalizeController(address: string): string {
  let url = address.trim();
  if (!/^https?:\/\//i.test(url)) url = `http://${url}`;
  url = url.replace(/\/+$/, "").replace(/\/api\/v1$/, "");
  try {
    new URL(url);
  } catch {
    throw new UsageError(`not a controller address: ${address}`);
  }
  return url;
}

export interface GlobalFlags {
  host?: string;
  token?: string;
  timeout?: string;
}

export function loadSettings(flags: GlobalFlags, env: Env): Settings {
  const filePath = kvctlFilePath(env);
  const file = readKvctlFile(filePath);
  const seedPath = seedFilePath();
  const sources: [string, () => string[] | undefined][] = [
    ["--host", () => stringList(flags.host, "--host")],
    ["KVCTL_HOST", () => stringList(env.KVCTL_HOST || undefined, "KVCTL_HOST")],
    [filePath, () => file.controllers],
    [seedPath, () => stringList(readYaml(seedPath)?.controllers, seedPath)],
  ];
  let controllers = [DEFAULT_CONTROLLER];
  let controllersFrom = "default";
  for (const [from, read] of sources) {
    const list = read();
    if (list) {
      controllers = list;
      controllersFrom = from;
      break;
    }
  }
  const timeoutSeconds = Number(flags.timeout ?? env.KVCTL_TIMEOUT ?? DEFAULT_TIMEOUT_SECONDS);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    throw new UsageError(`--timeout must be a number of seconds, got "${flags.timeout}"`);
  }
  return {
    controllers: controllers.map(normalizeController),
    controllersFrom,
    token: flags.token || env.KVCTL_TOKEN || file.token,
    timeoutMs: Math.round(timeoutSeconds * 1000),
    file,
    filePath,
  };
}
