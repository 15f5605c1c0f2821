// The one HTTP client: every request goes through here, with the token, the timeout and the
// controller fallback list. A controller that does not answer (or answers 503: its etcd is
// unavailable, nothing was written) makes kvctl try the next one.
import { ApiError, UnreachableError } from "./errors.js";

export type Method = "GET" | "POST" | "PUT" | "DELETE";

export interface ClientOptions {
  controllers: readonly string[];
  token?: string | undefined;
  timeoutMs: number;
  /** Told about each controller that did not answer, before the next is tried. */
  onFallback?: (controller: string, reason: string) => void;
}

export interface Answer<T> {
  status: number;
  data: T;
}

// Errors that happen before a request reaches the server: safe to send it elsewhere.
const NOT_SENT = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

function networkReason(err: unknown, timeoutMs: number): { reason: string; sent: boolean } {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === "TimeoutError" || e.name === "AbortError") {
    return { reason: `no answer within ${timeoutMs / 1000}s`, sent: true };
  }
  const code = e.cause?.code;
  const reason = code ?? e.cause?.message ?? e.message ?? String(err);
  return { reason, sent: !(code && NOT_SENT.has(code)) };
}

function parseBody(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorMessageOf(body: unknown): { message: string; field?: string } | undefined {
  const error = (body as { error?: { message?: unknown; field?: unknown } } | undefined)?.error;
  if (error && typeof error.message === "string") {
    return {
      message: error.message,
      ...(typeof error.field === "string" ? { field: error.field } : {}),
    };
  }
  return undefined;
}

export class Client {
  constructor(private readonly options: ClientOptions) {}

  get<T>(path: string): Promise<T> {
    return this.call<T>("GET", path).then((a) => a.data);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>("POST", path, body).then((a) => a.data);
  }
  put<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>("PUT", path, body).then((a) => a.data);
  }
  delete<T>(path: string): Promise<T> {
    return this.call<T>("DELETE", path).then((a) => a.data);
  }

  /** `path` is below /api/v1. Resolves with the answer's `data` (undefined for a 204). */
  async call<T>(method: Method, path: string, body?: unknown): Promise<Answer<T>> {
    const { controllers, token, timeoutMs, onFallback } = this.options;
    const failures: string[] = [];
    let unavailable: ApiError | undefined;
    for (const [i, base] of controllers.entries()) {
      const url = `${base}/api/v1${path}`;
      const headers: Record<string, string> = { accept: "application/json" };
      if (token) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers["content-type"] = "application/json";
      let res: Response;
      let text: string;
      try {
        res = await fetch(url, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
        text = await res.text();
      } catch (err) {
        const { reason, sent } = networkReason(err, timeoutMs);
        failures.push(`${base}: ${reason}`);
        const last = i === controllers.length - 1;
        if (sent && method !== "GET") {
          // The request may have been carried out; sending it again elsewhere could repeat it.
          throw new UnreachableError(
            `${method} ${path}: ${base}: ${reason}; the change may or may not have been made, check before retrying`,
          );
        }
        if (!last) onFallback?.(base, reason);
        continue;
      }
      const parsed = parseBody(text);
      if (res.ok) {
        if (res.status !== 204 && parsed === undefined) {
          throw new ApiError(
            res.status,
            `${base} answered something that is not JSON: ${text.slice(0, 200)}`,
          );
        }
        return { status: res.status, data: (parsed as { data?: T } | undefined)?.data as T };
      }
      const error = errorMessageOf(parsed) ?? {
        message: `HTTP ${res.status} ${res.statusText}${text ? `: ${text.slice(0, 200)}` : ""}`,
      };
      const apiError = new ApiError(res.status, error.message, error.field);
      if (res.status === 503) {
        // etcd is unavailable to that controller; per the API nothing was written.
        unavailable = apiError;
        failures.push(`${base}: ${error.message}`);
        if (i < controllers.length - 1) onFallback?.(base, error.message);
        continue;
      }
      throw apiError;
    }
    if (unavailable) throw unavailable;
    throw new UnreachableError(`cannot reach any controller: ${failures.join("; ")}`);
  }
}
