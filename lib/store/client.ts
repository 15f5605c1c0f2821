// The etcd client, configured so that no call can hang and every failure to reach etcd
// surfaces as one error kind (`unavailable`, a 503 at the HTTP edge).
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
}

export const DEFAULT_CALL_TIMEOUT_MS = 2000;

export function createEtcd(options: EtcdOptions): Etcd3 {
  const endpoints = options.endpoints.map((e) => e.trim()).filter((e) => e.length > 0);
  if (endpoints.length === 0) throw invalid("no etcd endpoints configured", "endpoints");
  const timeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const deadline = () => ({ deadline: new Date(Date.now() + timeoutMs) });
  return new Etcd3({
    hosts: endpoints,
    auth: options.username
      ? { username: options.username, password: options.password ?? "", callOptions: deadline }
      : undefined,
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
