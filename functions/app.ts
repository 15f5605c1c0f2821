// The HTTP app: stateless, so any number of instances can serve behind a load balancer.
import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import { z } from "zod";
import { KvcError } from "../lib/errors.js";
import { NodePool } from "../lib/kvrocks/index.js";
import { answers } from "./answers.js";
import { auditLog } from "./audit.js";
import { bearerAuth, isReadOnly, mayManageNamespaces, principalOf } from "./auth.js";
import type { AppDeps, AppEnv } from "./deps.js";
import { renderDocsPage } from "./docs-page.js";
import { errorAnswer, onError } from "./errors.js";
import { createMetrics } from "./metrics.js";
import { buildOpenApi, describe } from "./openapi.js";
import { knownHostForBrowsers, sameOriginMutations } from "./origin.js";
import { requestLog } from "./request-log.js";
import { checkRoutes } from "./routes/check.js";
import { clusterRoutes } from "./routes/clusters.js";
import { commandRoutes } from "./routes/commands.js";
import { healthRoutes } from "./routes/health.js";
import { maintenanceRoutes } from "./routes/maintenance.js";
import { namespaceRoutes } from "./routes/namespaces.js";
import { nodePlacementRoutes } from "./routes/node-placement.js";
import { shardRoutes } from "./routes/shards.js";
import { statsRoutes } from "./routes/stats.js";
import { taskRoutes } from "./routes/tasks.js";
import { TokenSource } from "./tokens-source.js";
import { uiRoutes } from "./ui/index.js";

export type { AppDeps } from "./deps.js";

const VERSION = "0.1.0";

/**
 * The body limit, for the methods that carry a body. Why not on every request: asking a
 * request for its body makes @hono/node-server build a whole WHATWG Request (headers, an
 * AbortSignal, a stream), which was the largest cost of a GET after etcd's own round trip.
 */
function limitBodies(maxSize: number): MiddlewareHandler<AppEnv> {
  const limit = bodyLimit({
    maxSize,
    onError: () => {
      throw new KvcError("too_large", `body larger than ${maxSize} bytes`);
    },
  });
  return (c, next) => (c.req.method === "GET" || c.req.method === "HEAD" ? next() : limit(c, next));
}

export function createApp(deps: AppDeps) {
  const tokens = new TokenSource(deps.auth, deps.ops.log);
  // Node connections kept for the app's life: the stats route and the scrape read every node
  // every few seconds. A connection a node closed is replaced on the next read.
  const nodePool = new NodePool();
  const metrics = createMetrics(deps.ops, nodePool);
  // A browser on the open API under a name any site can point here (see origin.ts).
  const rebinding = knownHostForBrowsers(
    deps.allowedOrigins ?? [],
    () => !tokens.enabled && deps.hostGuarded !== true,
  );
  const api = new Hono<AppEnv>()
    .use(auditLog(deps.ops.log))
    // Before the token check: a forged request is refused whatever it carries, and audited.
    .use(sameOriginMutations(deps.allowedOrigins ?? []))
    .use(rebinding)
    .use(bearerAuth(tokens))
    .use(limitBodies(deps.bodyLimitBytes))
    .get(
      "/token",
      describe({
        summary: "Who this token speaks for and what it may do (for consoles and scripts)",
        tag: "service",
        answers: { 200: answers.token },
      }),
      (c) => {
        const p = principalOf(c);
        return c.json({
          data: {
            name: p.name,
            role: p.role,
            namespaces: p.namespaces === null ? null : [...p.namespaces],
            read_only: isReadOnly(p),
            may_manage_namespaces: mayManageNamespaces(p),
          },
        });
      },
    )
    .route("/namespaces", namespaceRoutes(deps))
    .route("/namespaces", clusterRoutes(deps))
    .route("/namespaces", shardRoutes(deps))
    .route("/namespaces", taskRoutes(deps))
    .route("/namespaces", healthRoutes(deps))
    .route("/namespaces", statsRoutes(deps, nodePool))
    .route("/namespaces", checkRoutes(deps))
    .route("/namespaces", commandRoutes(deps))
    .route("/namespaces", nodePlacementRoutes(deps))
    .route("/namespaces", maintenanceRoutes(deps));

  const app = new Hono<AppEnv>()
    .use(requestId())
    .use(metrics.middleware)
    .use(requestLog(deps.ops.log))
    .get(
      "/healthz",
      describe({
        summary: "The process is up (liveness)",
        tag: "service",
        answers: { 200: answers.status },
      }),
      (c) => c.json({ data: { status: "ok" } }),
    )
    .get(
      "/readyz",
      describe({
        summary: "etcd answers (readiness); 503 when it does not",
        tag: "service",
        answers: { 200: answers.status },
      }),
      async (c) => {
        try {
          await deps.ops.store.ping();
          return c.json({ data: { status: "ready" } });
        } catch (err) {
          const { body } = errorAnswer(err);
          return c.json(body, 503);
        }
      },
    )
    .get(
      "/metrics",
      describe({
        summary: "Prometheus metrics: this instance's requests, every cluster read from etcd",
        tag: "service",
        answers: { 200: z.string().meta({ description: "Prometheus text format" }) },
        contentType: "text/plain",
      }),
      rebinding,
      bearerAuth(tokens),
      async (c) => {
        const { contentType, body } = await metrics.render();
        return c.body(body, 200, { "content-type": contentType });
      },
    )
    .get(
      "/openapi.json",
      describe({
        summary: "This document",
        tag: "service",
        answers: { 200: z.record(z.string(), z.unknown()) },
      }),
      (c) => c.json(openApi()),
    )
    .get(
      "/docs",
      describe({
        summary: "This document as a page (HTML)",
        tag: "service",
        contentType: "text/html",
        answers: { 200: z.string() },
      }),
      (c) => c.html(renderDocsPage(openApi())),
    )
    .route("/api/v1", api)
    .route("/ui", uiRoutes());

  // Built once, on first request, from the finished route table.
  let document: ReturnType<typeof buildOpenApi> | undefined;
  const openApi = () => {
    document ??= buildOpenApi(app.routes, { title: "kvrocks-controller", version: VERSION });
    return document;
  };

  app.notFound((c) =>
    c.json({ error: { message: `no route for ${c.req.method} ${c.req.path}` } }, 404),
  );
  app.onError(onError);
  return app;
}

export type App = ReturnType<typeof createApp>;
