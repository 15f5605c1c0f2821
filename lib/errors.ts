// The one error type of the core. Entry points map `kind` to an HTTP status, a CLI exit code
// or a log line in exactly one place each; the core never knows about HTTP.

export const errorKinds = [
  "invalid", // bad input: 400
  "unauthorized", // missing or wrong token: 401
  "forbidden", // allowed input, refused operation: 403
  "not_found", // 404
  "exists", // 409: the thing is already there
  "conflict", // 409: lost a race or state disagrees
  "too_large", // 413
  "unavailable", // etcd or a node cannot be reached: 503
  "node_error", // a Kvrocks node refused or answered nonsense: 502-ish, surfaced as 400 by routes
] as const;

export type ErrorKind = (typeof errorKinds)[number];

export class KvcError extends Error {
  override readonly name = "KvcError";
  constructor(
    readonly kind: ErrorKind,
    message: string,
    /** The input field the error is about, when there is one (`nodes[2]`, `slot`). */
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const invalid = (message: string, field?: string) => new KvcError("invalid", message, field);
export const notFound = (message: string) => new KvcError("not_found", message);
export const exists = (message: string) => new KvcError("exists", message);
export const conflict = (message: string) => new KvcError("conflict", message);
export const forbidden = (message: string) => new KvcError("forbidden", message);
export const unavailable = (message: string, cause?: unknown) =>
  new KvcError("unavailable", message, undefined, { cause });

export function isKvcError(err: unknown, kind?: ErrorKind): err is KvcError {
  return err instanceof KvcError && (kind === undefined || err.kind === kind);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
