// The etcd client, configured so that no call can hang and every failure to reach etcd
// surfaces as one error kind (`unavailable`, a 503 at the HTTP edge).
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { ConstantBackoff, handleWhen, isBrokenCircuitError, retry } from "cockatiel";
import {
  ClientClosedError,
  Etcd3,
  EtcdAuthenticationFailedError,
  EtcdPermissionDeniedError,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCUnauthenticatedError,
  GRPCUnavailableError,
} from "etcd3";
import { errorMessage, invalid, isKvcError, KvcError, unavailable } from "../errors.js";

export interface EtcdOptions {
  /** `host:port` or `http://host:port`. */
  endpoints: string[];
  username?: string;
  password?: string;
  /** Deadline of every unary call; etcd3's `dialTimeout` does nothing, so this is the bound. */
  callTimeoutMs?: number;
  /** PEM contents; see `readEtcdTls`. */
  tls?: EtcdTls;
}

export interface EtcdTls {
  /** Trusted CA bundle; absent = the system's roots. */
  ca?: Buffer;
  /** Client certificate and key, for an etcd started with `--client-cert-auth`. */
  cert?: Buffer;
  key?: Buffer;
}

/** Where the TLS files are (config `etcd.tls`). */
export interface EtcdTlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** Reads the TLS files; a missing, unreadable or non-PEM file is an error naming it. */
export function readEtcdTls(files: EtcdTlsFiles): EtcdTls {
  const read = (path: string | undefined, what: string) => {
    if (path === undefined) return undefined;
    let content: Buffer;
    try {
      content = readFileSync(path);
    } catch (err) {
      throw invalid(`cannot read the etcd TLS ${what} file ${path}: ${errorMessage(err)}`, what);
    }
    if (!content.includes("-----BEGIN "))
      throw invalid(`the etcd TLS ${what} file ${path} is not PEM`, what);
    return content;
  };
  return {
    ca: read(files.caFile, "CA"),
    cert: read(files.certFile, "certificate"),
    key: read(files.keyFile, "key"),
  };
}

/**
 * grpc sets the TLS server name to the endpoint's host, and Node warns (DEP0123) on every
 * connection when that is an IP address; etcd certificates for IP endpoints are normal, so
 * the warning would only bury the controller's own output.
 */
let servernameWarningSilenced = false;
function silenceServernameWarning(): void {
  if (servernameWarningSilenced) return;
  servernameWarningSilenced = true;
  const emit = process.emitWarning.bind(process);
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const code = rest.find((r) => typeof r === "string" && r.startsWith("DEP"));
    const options = rest[0] as { code?: string } | undefined;
    if (code === "DEP0123" || options?.code === "DEP0123") return;
    (emit as (w: string | Error, ...r: unknown[]) => void)(warning, ...rest);
  }) as typeof process.emitWarning;
}

export const DEFAULT_CALL_TIMEOUT_MS = 2000;

export function createEtcd(options: EtcdOptions): Etcd3 {
  const endpoints = options.endpoints.map((e) => e.trim()).filter((e) => e.length > 0);
  if (endpoints.length === 0) throw invalid("no etcd endpoints configured", "endpoints");
  const timeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const deadline = () => ({ deadline: new Date(Date.now() + timeoutMs) });
  const tls = options.tls;
  const secure = tls !== undefined || endpoints.some((e) => e.startsWith("https://"));
  if (secure) silenceServernameWarning();
  return new Etcd3({
    hosts: endpoints,
    credentials: tls
      ? {
          rootCertificate: tls.ca ?? Buffer.from(rootCertificates.join("\n")),
          privateKey: tls.key,
          certChain: tls.cert,
        }
      : undefined,
    auth: options.username
      ? { username: options.username, password: options.password ?? "", callOptions: deadline }
      : undefined,
    // gRPC refuses an answer over 4 MiB by default; reads of a whole prefix go in pages
    // (`listPrefix`) of at most 256 values of at most 1.5 MiB (etcd's limit), so this bound
    // is never reached, and a refused answer would also open etcd3's circuit breaker.
    grpcOptions: { "grpc.max_receive_message_length": 512 * 1024 * 1024 },
    // Streams (lease keepalive, watch) live longer than one call; whoever opens one passes
    // its own deadline. Every unary call gets a fresh one.
    defaultCallOptions: (context) => (context.isStream ? {} : deadline()),
    faultHandling: {
      // etcd3 retries every "recoverable" error by default, including deadline exceeded:
      // that re-sends a transaction which may already have committed, so a CAS loop could
      // apply one change twice, and a hung etcd would take 4x the deadline to report.
      // Retry only when the request never got an answer from a server process at all
      // (connection refused/reset), trying each endpoint once more.
      global: retry(handleWhen(isTransportUnavailable), {
        maxAttempts: endpoints.length,
        backoff: new ConstantBackoff(50),
      }),
    },
  });
}

export function closeEtcd(etcd: Etcd3 | undefined | null): void {
  etcd?.close();
}

function isTransportUnavailable(err: Error): boolean {
  // "etcdserver: request timed out" is also UNAVAILABLE, but the proposal may still
  // apply, so it is not safe to re-send.
  return err instanceof GRPCUnavailableError && !err.message.includes("etcdserver:");
}

const unreachableMessage =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|No connection established|deadline/i;

const tlsFailure = /certificate|SSL|TLS|handshake|alert/i;

/**
 * When a failed etcd call failed because of TLS (an untrusted server, a refused client
 * certificate), one line saying so; otherwise undefined (etcd is merely down).
 */
export function tlsFailureOf(err: unknown): string | undefined {
  const message = errorMessage(err);
  if (!tlsFailure.test(message)) return undefined;
  // grpc: "14 UNAVAILABLE: No connection established. Last error: <cause> (time). Resolution..."
  const cause = (/Last error: (.*)/.exec(message)?.[1] ?? message)
    .replace(/\s*\(\d{4}-\d\d-\d\dT[^)]*\)\.?.*$/, "")
    .replace(/^Error: /, "");
  const alert = /alert ([a-z ]+?):/i.exec(cause)?.[1];
  if (alert)
    return `etcd refused the TLS connection (${alert}): check the client certificate and key`;
  return `etcd TLS handshake failed: ${cause.split("\n")[0]?.trim()}`;
}

/**
 * Maps any error thrown by an etcd call to the error the core speaks. KvcErrors pass
 * through; an unknown error is returned as is (it is a bug, not an outage).
 */
export function toStoreError(err: unknown): Error {
  if (isKvcError(err)) return err;
  const message = errorMessage(err);
  if (
    err instanceof GRPCUnavailableError ||
    err instanceof GRPCDeadlineExceededError ||
    err instanceof GRPCCancelledError ||
    err instanceof ClientClosedError ||
    isBrokenCircuitError(err) ||
    unreachableMessage.test(message)
  ) {
    return unavailable(`etcd is unreachable: ${message}`, err);
  }
  if (
    err instanceof EtcdAuthenticationFailedError ||
    err instanceof EtcdPermissionDeniedError ||
    err instanceof GRPCUnauthenticatedError
  ) {
    return unavailable(`etcd refused the controller's credentials: ${message}`, err);
  }
  if (/too many operations in txn|request is too large/.test(message)) {
    return new KvcError(
      "too_large",
      `the change touches too many keys for one etcd transaction: ${message}`,
      undefined,
      { cause: err },
    );
  }
  return err instanceof Error ? err : new Error(message);
}
