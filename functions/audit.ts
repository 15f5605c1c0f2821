// The audit trail: one JSON line (`"audit":true`) per request that asks to change something,
// refused ones included, naming the token (never the token itself), the route, the namespace
// and cluster, the status, and the cluster version the change produced when there is one.
import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { Logger } from "../lib/log.js";
import { accessFor, decodeSegment } from "./auth.js";
import type { AppEnv } from "./deps.js";

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** A handler whose answer does not carry the cluster notes the version it wrote here. */
export function noteVersion(c: Context<AppEnv>, version: number): void {
  c.set("version", version);
}

export function auditLog(log: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (READ_METHODS.has(c.req.method)) return next();
    await next();
    const access = accessFor(c.req.method, c.req.path);
    const namespace = "namespace" in access ? access.namespace : undefined;
    const route = routePath(c, -1);
    log.info(
      {
        audit: true,
        request_id: c.get("requestId"),
        token_name: c.get("principal")?.name ?? null,
        method: c.req.method,
        route: route.endsWith("*") ? c.req.path : route,
        namespace: namespace ?? null,
        cluster: clusterOf(c.req.path),
        status: c.res.status,
        version: c.get("version") ?? (await versionInAnswer(c)),
      },
      "audit",
    );
  };
}

function clusterOf(path: string): string | null {
  const parts = path.split("/");
  const at = parts.indexOf("clusters");
  const name = at === -1 ? undefined : parts[at + 1];
  return name ? decodeSegment(name) : null;
}

/** Answers that carry the changed cluster say its version; others are noted by the handler. */
async function versionInAnswer(c: Context<AppEnv>): Promise<number | null> {
  if (c.res.status >= 300 || !c.res.headers.get("content-type")?.includes("json")) return null;
  try {
    const body = (await c.res.clone().json()) as { data?: { cluster?: { version?: unknown } } };
    const version = body.data?.cluster?.version;
    return typeof version === "number" ? version : null;
  } catch {
    return null;
  }
}
