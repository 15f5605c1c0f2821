// Request parsing with zod; a failure is a 400 whose message names the field.
import { zValidator } from "@hono/zod-validator";
import type { MiddlewareHandler } from "hono";
import type { ZodType } from "zod";
import { z } from "zod";
import { forbidden, invalid } from "../lib/errors.js";
import { ResourceName } from "../lib/model/index.js";
import { mayManageNamespaces, type Principal } from "../lib/tokens.js";

type Target = "json" | "param" | "query";

export const validatorDoc = Symbol("validator-doc");
export interface ValidatorDoc {
  target: Target;
  schema: ZodType;
}

export function validate<T extends ZodType, K extends Target>(target: K, schema: T) {
  const middleware = zValidator(target, schema, (result) => {
    if (!result.success) {
      const issue = result.error.issues[0];
      const path = issue?.path.join(".") || (target === "json" ? "body" : target);
      throw invalid(`${path}: ${issue?.message ?? "invalid"}`, path);
    }
  });
  // The JSON body is read whatever the Content-Type says, as upstream does: `curl -d` sends
  // application/x-www-form-urlencoded. Same answer type as zValidator's, so routes stay typed.
  const handler =
    target === "json" ? (jsonBodyValidator(schema) as unknown as typeof middleware) : middleware;
  // The OpenAPI document is generated from exactly the schemas that validate.
  return Object.assign(handler, { [validatorDoc]: { target, schema } as ValidatorDoc });
}

function jsonBodyValidator(schema: ZodType): MiddlewareHandler {
  return async (c, next) => {
    c.req.addValidatedData("json", parseJsonBody(await c.req.text(), schema, false) as object);
    await next();
  };
}

function parseJsonBody<T extends ZodType>(text: string, schema: T, optional: boolean) {
  let value: unknown;
  try {
    value = optional && text.trim() === "" ? undefined : JSON.parse(text);
  } catch {
    throw invalid("body: not valid JSON", "body");
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue?.path.join(".") || "body";
    throw invalid(`${path}: ${issue?.message ?? "invalid"}`, path);
  }
  return result.data as z.infer<T>;
}

/** A shard index in a body: a JSON integer >= 0. `null`, `true` or `"1"` are not indexes. */
export const ShardIndex = z
  .number({ message: "must be a shard index (an integer >= 0)" })
  .int("must be a shard index (an integer >= 0)")
  .nonnegative("must be a shard index (an integer >= 0)");

/** A shard index in a path: decimal digits only, so " ", "0x1" or "1e0" never mean a shard. */
export const ShardIndexParam = z
  .string()
  .regex(/^\d{1,9}$/, "must be a shard index (an integer >= 0)")
  .transform(Number);

export const NamespaceParams = z.object({ ns: ResourceName });
export const ClusterParams = z.object({ ns: ResourceName, cluster: ResourceName });
export const ShardParams = ClusterParams.extend({ shard: ShardIndexParam });

/** For routes whose body is optional (upstream's failover and sync accept none). */
export async function optionalJsonBody<T extends ZodType>(
  req: { text(): Promise<string> },
  schema: T,
) {
  return parseJsonBody(await req.text(), schema, true);
}

/** Upstream's `X-Dont-Check-Kvrocks-Version: yes`: add nodes whatever Kvrocks they run. */
export function skipsVersionCheck(req: { header(name: string): string | undefined }): boolean {
  return req.header("x-dont-check-kvrocks-version")?.toLowerCase() === "yes";
}

/**
 * `force` in a body that adds nodes: take over a node a cluster no longer stored left
 * initialised. It takes a node from whoever ran it, so only an admin token (every namespace)
 * may; a namespace's token is answered 403.
 */
export const TakeOver = z.boolean().default(false);

export function assertMayTakeOver(force: boolean, principal: Principal): void {
  if (force && !mayManageNamespaces(principal)) {
    throw forbidden(
      `"force" takes over a node another cluster left initialised and needs an admin token; token "${principal.name}" is not one`,
    );
  }
}
