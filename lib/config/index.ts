// One schema for all configuration: a YAML file (the seed's format or upstream's) and then
// KVC_* environment variables on top. Entry points read the file and pass process.env in.
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { invalid } from "../errors.js";

const csv = (value: string | undefined) =>
  value === undefined
    ? undefined
    : value
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "");

const Endpoint = z.string().regex(/^(https?:\/\/)?[^\s/]+:\d{1,5}$/, "must be host:port");

/** Measured on Kvrocks 2.10.1: docs/migration.md. */
export const DEFAULT_MAX_RANGE_SLOTS = 256;

export const Config = z.object({
  etcd: z.object({
    endpoints: z.array(Endpoint).min(1, "needs at least one endpoint"),
    prefix: z.string().regex(/^\/[^\s]*[^/\s]$/, "must start with / and not end with /"),
    username: z.string().optional(),
    password: z.string().optional(),
    callTimeoutMs: z.number().int().positive(),
    /** Client TLS: file paths. A CA alone verifies the server; cert and key add a client cert. */
    tls: z
      .object({
        caFile: z.string().min(1).optional(),
        certFile: z.string().min(1).optional(),
        keyFile: z.string().min(1).optional(),
      })
      .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), {
        message: "needs both a certificate and a key file, or neither",
      })
      .optional(),
  }),
  http: z.object({
    host: z.string().min(1),
    port: z.number().int().min(0).max(65535),
    bodyLimitBytes: z.number().int().positive(),
    /**
     * Browser origins besides the API's own that may send it changes (`KVC_ALLOWED_ORIGINS`),
     * held as the browser writes them: `https://console.example.com`, default port dropped.
     */
    allowedOrigins: z.array(
      z
        .string()
        .regex(/^https?:\/\/[^\s/?#]+$/, "must be scheme://host[:port], without a path")
        .transform((origin) => new URL(origin).origin),
    ),
  }),
  auth: z.object({
    /** `name:token` or a bare token (named by a short hash of it): role admin. */
    tokens: z.array(z.string().min(1)),
    readonlyTokens: z.array(z.string().min(1)),
    /** `namespace=token`: may read and change that namespace's clusters only. */
    namespaceTokens: z.array(z.string().regex(/^[^=\s]+=\S+$/, "must be namespace=token")),
    /** YAML tokens file, re-read when it changes. */
    tokensFile: z.string().min(1).optional(),
  }),
  nodeTimeoutMs: z.number().int().positive(),
  probe: z.object({
    intervalMs: z.number().int().positive(),
    failures: z.number().int().positive(),
    /**
     * A master is judged down once unreachable this long (and `failures` probes in a row
     * failed), re-probed every `confirmEveryMs` meanwhile; 0 = counted once per round only.
     */
    downAfterMs: z.number().int().nonnegative(),
    confirmEveryMs: z.number().int().min(10).max(1000),
    timeoutMs: z.number().int().positive(),
    safeModeRatio: z.number().min(0).max(1),
    lockTtlSeconds: z.number().int().min(2),
    concurrency: z.number().int().positive(),
    /** The probe Lambda's rounds per invocation last this long; 0 = one round. */
    lambdaForMs: z.number().int().nonnegative(),
    /**
     * A master is failed over only once this many distinct observers (`observer` names)
     * judged it down within down-after plus one interval; 1 = the owner's judgement alone.
     */
    quorum: z.number().int().min(1).max(16),
    /** Where this probe invocation looks from (`KVC_PROBE_OBSERVER`); default the host name. */
    observer: z
      .string()
      .regex(/^[\w.-]{1,64}$/, "letters, digits, . _ - only")
      .optional(),
  }),
  migration: z.object({
    timeoutMs: z.number().int().positive(),
    /**
     * A move with data is carried out in ranges of at most this many slots
     * (`KVC_MIGRATION_MAX_RANGE_SLOTS`; a task may ask for its own). See docs/migration.md
     * for the measurements behind the default.
     */
    maxRangeSlots: z.number().int().min(1).max(16384),
    /**
     * While a range migrates, the probe round that owns the cluster asks the source master
     * for its migrating state this often (`KVC_MIGRATION_WATCH_EVERY_MS`), so a range that
     * completes is committed and pushed at once instead of at the next round.
     */
    watchEveryMs: z.number().int().min(1).max(1000),
    /**
     * How long one probe round keeps watching (`KVC_MIGRATION_WATCH_FOR_MS`); absent: the
     * probe interval. The round's other work for the cluster (failover) waits meanwhile.
     */
    watchForMs: z.number().int().nonnegative().optional(),
  }),
  /** A planned switchover waits this long for the chosen replica to catch up, then is undone. */
  switchoverCatchupMs: z.number().int().positive(),
  logLevel: z.enum(["trace", "debug", "info", "warn", "error", "silent"]),
});
export type Config = z.infer<typeof Config>;

export const defaultConfig: Config = {
  etcd: { endpoints: ["127.0.0.1:2379"], prefix: "/kvrocks", callTimeoutMs: 2000 },
  http: { host: "127.0.0.1", port: 9379, bodyLimitBytes: 1024 * 1024, allowedOrigins: [] },
  auth: { tokens: [], readonlyTokens: [], namespaceTokens: [] },
  nodeTimeoutMs: 1000,
  probe: {
    intervalMs: 1000,
    failures: 3,
    // Below Kvrocks 2.10's 1 s replica retry (a promotion sent after it waits a second more),
    // above the 800 ms stalls a master must survive.
    downAfterMs: 900,
    confirmEveryMs: 150,
    timeoutMs: 1000,
    safeModeRatio: 0.5,
    lockTtlSeconds: 5,
    concurrency: 16,
    lambdaForMs: 0,
    quorum: 1,
  },
  migration: {
    timeoutMs: 10 * 60 * 1000,
    maxRangeSlots: DEFAULT_MAX_RANGE_SLOTS,
    watchEveryMs: 25,
  },
  switchoverCatchupMs: 2000,
  logLevel: "info",
};

// The file may be the seed's format or upstream's; both map onto the same fields.
const FileConfig = z
  .object({
    // seed
    controller: z
      .union([
        z.string(),
        z.object({
          failover: z
            .object({
              ping_interval_seconds: z.number().positive().optional(),
              max_ping_count: z.number().int().positive().optional(),
            })
            .optional(),
        }),
      ])
      .optional(),
    etcdhosts: z.array(z.string()).optional(),
    // upstream
    addr: z.string().optional(),
    etcd: z
      .object({
        addrs: z.array(z.string()).optional(),
        username: z.string().nullish(),
        password: z.string().nullish(),
        prefix: z.string().nullish(),
        // upstream's keys; YAML leaves an empty key null
        tls: z
          .object({
            enable: z.boolean().nullish(),
            cert_file: z.string().nullish(),
            key_file: z.string().nullish(),
            ca_file: z.string().nullish(),
          })
          .nullish(),
      })
      .optional(),
    // ours
    api_tokens: z.array(z.string()).optional(),
    readonly_tokens: z.array(z.string()).optional(),
    namespace_tokens: z.array(z.string()).optional(),
    tokens_file: z.string().optional(),
    allowed_origins: z.array(z.string()).optional(),
  })
  .passthrough();

function splitHostPort(value: string, field: string): { host: string; port: number } {
  const at = value.lastIndexOf(":");
  const port = Number(value.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port))
    throw invalid(`config ${field}: "${value}" must be host:port`, field);
  return { host: value.slice(0, at), port };
}

function numberFrom(env: Record<string, string | undefined>, key: string): number | undefined {
  const raw = env[key];
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw invalid(`${key}: "${raw}" is not a number`, key);
  return value;
}

/** KVC_ETCD_TLS_CA / _CERT / _KEY override the file's `etcd.tls` key by key. */
function applyEtcdTlsEnv(config: Config, env: Record<string, string | undefined>): void {
  const fromEnv = {
    caFile: env.KVC_ETCD_TLS_CA || undefined,
    certFile: env.KVC_ETCD_TLS_CERT || undefined,
    keyFile: env.KVC_ETCD_TLS_KEY || undefined,
  };
  if (!fromEnv.caFile && !fromEnv.certFile && !fromEnv.keyFile) return;
  const tls = { ...config.etcd.tls };
  for (const [key, value] of Object.entries(fromEnv) as [keyof typeof fromEnv, string][]) {
    if (value) tls[key] = value;
  }
  config.etcd.tls = tls;
}

/** Merges defaults, the file (YAML text) and the environment; errors name the key. */
export function loadConfig(
  fileText: string | undefined,
  env: Record<string, string | undefined>,
): Config {
  const config: Config = structuredClone(defaultConfig);

  if (fileText !== undefined) {
    let raw: unknown;
    try {
      raw = parseYaml(fileText) ?? {};
    } catch (err) {
      throw invalid(`config file is not valid YAML: ${(err as Error).message}`, "config");
    }
    const parsed = FileConfig.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw invalid(`config ${issue.path.join(".")}: ${issue.message}`, issue.path.join("."));
    }
    const file = parsed.data;
    const listen = file.addr ?? (typeof file.controller === "string" ? file.controller : undefined);
    if (listen)
      Object.assign(config.http, splitHostPort(listen, file.addr ? "addr" : "controller"));
    const endpoints = file.etcd?.addrs ?? file.etcdhosts;
    if (endpoints) config.etcd.endpoints = endpoints;
    if (file.etcd?.username) config.etcd.username = file.etcd.username;
    if (file.etcd?.password) config.etcd.password = file.etcd.password;
    if (file.etcd?.prefix) config.etcd.prefix = file.etcd.prefix;
    if (typeof file.controller === "object" && file.controller.failover) {
      const failover = file.controller.failover;
      if (failover.ping_interval_seconds)
        config.probe.intervalMs = failover.ping_interval_seconds * 1000;
      if (failover.max_ping_count) config.probe.failures = failover.max_ping_count;
    }
    if (file.api_tokens) config.auth.tokens = file.api_tokens;
    if (file.readonly_tokens) config.auth.readonlyTokens = file.readonly_tokens;
    if (file.namespace_tokens) config.auth.namespaceTokens = file.namespace_tokens;
    if (file.tokens_file) config.auth.tokensFile = file.tokens_file;
    if (file.allowed_origins) config.http.allowedOrigins = file.allowed_origins;
    const tls = file.etcd?.tls;
    if (tls?.enable) {
      config.etcd.tls = {
        caFile: tls.ca_file || undefined,
        certFile: tls.cert_file || undefined,
        keyFile: tls.key_file || undefined,
      };
    }
  }

  const endpoints = csv(env.KVC_ETCD_ENDPOINTS);
  if (endpoints) config.etcd.endpoints = endpoints;
  if (env.KVC_ETCD_PREFIX) config.etcd.prefix = env.KVC_ETCD_PREFIX;
  if (env.KVC_ETCD_USERNAME) config.etcd.username = env.KVC_ETCD_USERNAME;
  if (env.KVC_ETCD_PASSWORD) config.etcd.password = env.KVC_ETCD_PASSWORD;
  if (env.KVC_HOST) config.http.host = env.KVC_HOST;
  if (env.KVC_PROBE_OBSERVER) config.probe.observer = env.KVC_PROBE_OBSERVER;
  const numbers: [string, (v: number) => void][] = [
    ["KVC_PORT", (v) => (config.http.port = v)],
    ["KVC_ETCD_TIMEOUT_MS", (v) => (config.etcd.callTimeoutMs = v)],
    ["KVC_BODY_LIMIT_BYTES", (v) => (config.http.bodyLimitBytes = v)],
    ["KVC_NODE_TIMEOUT_MS", (v) => (config.nodeTimeoutMs = v)],
    ["KVC_PROBE_INTERVAL_MS", (v) => (config.probe.intervalMs = v)],
    ["KVC_PROBE_FAILURES", (v) => (config.probe.failures = v)],
    ["KVC_PROBE_DOWN_AFTER_MS", (v) => (config.probe.downAfterMs = v)],
    ["KVC_PROBE_CONFIRM_EVERY_MS", (v) => (config.probe.confirmEveryMs = v)],
    ["KVC_PROBE_TIMEOUT_MS", (v) => (config.probe.timeoutMs = v)],
    ["KVC_SAFE_MODE_RATIO", (v) => (config.probe.safeModeRatio = v)],
    ["KVC_PROBE_LOCK_TTL_SECONDS", (v) => (config.probe.lockTtlSeconds = v)],
    ["KVC_PROBE_CONCURRENCY", (v) => (config.probe.concurrency = v)],
    ["KVC_MIGRATION_TIMEOUT", (v) => (config.migration.timeoutMs = v)],
    ["KVC_MIGRATION_MAX_RANGE_SLOTS", (v) => (config.migration.maxRangeSlots = v)],
    ["KVC_MIGRATION_WATCH_EVERY_MS", (v) => (config.migration.watchEveryMs = v)],
    ["KVC_MIGRATION_WATCH_FOR_MS", (v) => (config.migration.watchForMs = v)],
    ["KVC_PROBE_LAMBDA_FOR_MS", (v) => (config.probe.lambdaForMs = v)],
    ["KVC_PROBE_QUORUM", (v) => (config.probe.quorum = v)],
    ["KVC_SWITCHOVER_CATCHUP_MS", (v) => (config.switchoverCatchupMs = v)],
  ];
  for (const [key, set] of numbers) {
    const value = numberFrom(env, key);
    if (value !== undefined) set(value);
  }
  const tokens = csv(env.KVC_API_TOKENS);
  if (tokens) config.auth.tokens = tokens;
  const readonly = csv(env.KVC_READONLY_TOKENS);
  if (readonly) config.auth.readonlyTokens = readonly;
  const namespaceTokens = csv(env.KVC_NAMESPACE_TOKENS);
  if (namespaceTokens) config.auth.namespaceTokens = namespaceTokens;
  if (env.KVC_TOKENS_FILE) config.auth.tokensFile = env.KVC_TOKENS_FILE;
  const origins = csv(env.KVC_ALLOWED_ORIGINS);
  if (origins) config.http.allowedOrigins = origins;
  applyEtcdTlsEnv(config, env);
  if (env.KVC_LOG_LEVEL) config.logLevel = env.KVC_LOG_LEVEL as Config["logLevel"];

  const result = Config.safeParse(config);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw invalid(`config ${issue.path.join(".")}: ${issue.message}`, issue.path.join("."));
  }
  return result.data;
}
