// Every call to /api/v1, with the operator's token from this browser session.
import type { Failed } from "./types.js";

const API = "/api/v1";
export const TOKEN_KEY = "kvrocks-controller.token";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A confirmation the operator declined: not an error to show. */
export class Cancelled extends Error {}

export const statusOf = (err: unknown) => (err instanceof ApiError ? err.status : -1);
export const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function token(): string {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}

export function path(...parts: (string | number)[]): string {
  return `/${parts.map((p) => encodeURIComponent(String(p))).join("/")}`;
}

export const nsApi = (ns: string) => path("namespaces", ns);
export const clusterApi = (ns: string, cl: string) => path("namespaces", ns, "clusters", cl);
export const nsUi = (ns: string) => `/ui${path("namespaces", ns)}`;
export const clusterUi = (ns: string, cl: string) => `/ui${clusterApi(ns, cl)}`;
export const nodeUi = (ns: string, cl: string, id: string) => clusterUi(ns, cl) + path("nodes", id);

export async function api<T>(method: string, url: string, payload?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  const t = token();
  if (t) headers.authorization = `Bearer ${t}`;
  const init: RequestInit = { method, headers, cache: "no-store" };
  if (payload !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(payload);
  }
  let res: Response;
  try {
    res = await fetch(API + url, init);
  } catch (err) {
    throw new ApiError(0, `cannot reach the API: ${messageOf(err)}`);
  }
  if (res.status === 204) return null as T;
  let json: { data?: T; error?: { message?: string } } | null = null;
  try {
    json = await res.json();
  } catch {
    json = null;
  }
  if (!res.ok) throw new ApiError(res.status, json?.error?.message ?? `HTTP ${res.status}`);
  return (json ? json.data : null) as T;
}

/** For secondary reads of a page: a failure is shown in place, a 401 asks for a token. */
export function soft<T>(promise: Promise<T>): Promise<T | Failed> {
  return promise.catch((err: unknown) => {
    if (statusOf(err) === 401) throw err;
    return { failed: messageOf(err) };
  });
}
