// One log line per request: who asked what and how it went. Never headers or bodies, so no
// token or password can reach the log from here.
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../lib/log.js";
import type { AppEnv } from "./deps.js";

export function requestLog(log: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const status = c.res.status;
    // A read that went well is logged at debug: when that is off (the default, info), the
    // line is not built at all; it was a fair share of a GET's own work.
    if (status < 500 && c.req.method === "GET" && !log.isLevelEnabled("debug")) return;
    const fields = {
      request_id: c.get("requestId"),
      method: c.req.method,
      path: c.req.path,
      status,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
      namespace: c.req.param("ns"),
      cluster: c.req.param("cluster"),
    };
    if (status >= 500) log.error(fields, "request failed");
    else if (c.req.method === "GET") log.debug(fields, "request");
    else log.info(fields, "request");
  };
}
