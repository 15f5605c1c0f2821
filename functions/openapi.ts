// OpenAPI 3.1, generated from the app's own route table: the path and method of every route,
// the zod schemas its validators use, and the answer schemas its `describe` names.
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { ErrorAnswer, wireJsonSchemas } from "./answers.js";
import { type ValidatorDoc, validatorDoc } from "./validation.js";

export interface RouteDoc {
  summary: string;
  tag: string;
  /** Status → answer schema (null: no body, as 204). */
  answers: Record<number, z.ZodType | null>;
  /** A body the handler parses itself (optional bodies). */
  body?: z.ZodType;
  /** Error statuses beyond the ones every route can give. */
  errors?: number[];
  /** Of the success answers; JSON unless said. */
  contentType?: string;
}

export const routeDoc = Symbol("route-doc");

/** A no-op middleware that carries the route's documentation. */
export function describe(doc: RouteDoc): MiddlewareHandler {
  const middleware: MiddlewareHandler = (_c, next) => next();
  return Object.assign(middleware, { [routeDoc]: doc });
}

interface RouteEntry {
  method: string;
  path: string;
  handler: unknown;
}

const errorText: Record<number, string> = {
  400: "invalid input; the message names the field",
  401: "missing or wrong bearer token",
  403: "forbidden (read-only token, or the operation is refused)",
  404: "not found",
  409: "already exists, or lost a race with a concurrent change",
  413: "body too large",
  503: "etcd unreachable",
};

const jsonSchema = (schema: z.ZodType, io: "input" | "output") => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: "any",
  }) as Record<string, unknown>;
  return rest;
};

function parameters(schema: z.ZodType, where: "path" | "query") {
  const json = jsonSchema(schema, "input") as {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === "path" || (json.required ?? []).includes(name),
    schema: s,
  }));
}

const isAuthRoute = (path: string) => path.startsWith("/api/") || path === "/metrics";

export function buildOpenApi(
  routes: readonly RouteEntry[],
  info: { title: string; version: string },
) {
  const byRoute = new Map<string, RouteEntry[]>();
  for (const r of routes) {
    if (r.method === "ALL") continue;
    const key = `${r.method} ${r.path}`;
    byRoute.set(key, [...(byRoute.get(key) ?? []), r]);
  }
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [key, entries] of byRoute) {
    const [method, path] = key.split(" ") as [string, string];
    const handlers = entries.map((e) => e.handler as Record<symbol, unknown>);
    const doc = handlers.map((h) => h[routeDoc]).find(Boolean) as RouteDoc | undefined;
    if (!doc) continue; // undocumented routes (the console's HTML) are not part of the API
    const validators = handlers.map((h) => h[validatorDoc]).filter(Boolean) as ValidatorDoc[];
    const param = validators.find((v) => v.target === "param");
    const query = validators.find((v) => v.target === "query");
    const body = validators.find((v) => v.target === "json")?.schema ?? doc.body;
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(doc.answers)) {
      responses[status] = schema
        ? {
            description: "success",
            content: {
              [doc.contentType ?? "application/json"]: { schema: jsonSchema(schema, "output") },
            },
          }
        : { description: "success, no body" };
    }
    const errors = new Set([...(doc.errors ?? []), ...(param || body || query ? [400] : []), 503]);
    if (isAuthRoute(path)) {
      errors.add(401);
      if (method !== "GET") errors.add(403);
    }
    for (const status of [...errors].sort()) {
      responses[String(status)] = { $ref: `#/components/responses/E${status}` };
    }
    const openapiPath = path.replace(/:(\w+)/g, "{$1}");
    paths[openapiPath] ??= {};
    paths[openapiPath][method.toLowerCase()] = {
      summary: doc.summary,
      tags: [doc.tag],
      operationId: `${method.toLowerCase()}${openapiPath
        .replace(/[{}]/g, "")
        .replace(/\/(\w)/g, (_m, c: string) => c.toUpperCase())
        .replace(/\W/g, "")}`,
      parameters: [
        ...(param ? parameters(param.schema, "path") : []),
        ...(query ? parameters(query.schema, "query") : []),
      ],
      ...(body
        ? {
            requestBody: {
              required: !doc.body,
              content: { "application/json": { schema: jsonSchema(body, "input") } },
            },
          }
        : {}),
      responses,
      ...(isAuthRoute(path) ? { security: [{ bearer: [] }, {}] } : {}),
    };
  }
  const strip = (s: Record<string, unknown>) => {
    const { $schema: _ignored, ...rest } = s;
    return rest;
  };
  return {
    openapi: "3.1.0",
    info: {
      ...info,
      description:
        "kvrocks-controller: a stateless control plane for Apache Kvrocks clusters, compatible with apache/kvrocks-controller's /api/v1.",
    },
    paths,
    components: {
      schemas: {
        Cluster: strip(wireJsonSchemas().cluster as Record<string, unknown>),
        Shard: strip(wireJsonSchemas().shard as Record<string, unknown>),
        Error: jsonSchema(ErrorAnswer, "output"),
      },
      responses: Object.fromEntries(
        Object.entries(errorText).map(([status, description]) => [
          `E${status}`,
          {
            description,
            content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
          },
        ]),
      ),
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
    },
  };
}
