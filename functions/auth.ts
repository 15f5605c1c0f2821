// Bearer tokens: full tokens may do anything, read-only tokens only GET/HEAD.
import { timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { KvcError } from "../lib/errors.js";

export interface AuthConfig {
  tokens: readonly string[];
  readonlyTokens: readonly string[];
}

function matches(candidate: string, tokens: readonly string[]): boolean {
  const given = Buffer.from(candidate);
  return tokens.some((token) => {
    const expected = Buffer.from(token);
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
}

export function authEnabled(auth: AuthConfig): boolean {
  return auth.tokens.length > 0 || auth.readonlyTokens.length > 0;
}

/** What the request's token may do (all of it when auth is off); 401 without a valid one. */
export function tokenAccess(
  auth: AuthConfig,
  authorization: string | undefined,
): "full" | "readonly" {
  if (!authEnabled(auth)) return "full";
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  if (!match)
    throw new KvcError("unauthorized", "missing bearer token (Authorization: Bearer <token>)");
  const token = match[1]!;
  if (matches(token, auth.tokens)) return "full";
  if (matches(token, auth.readonlyTokens)) return "readonly";
  throw new KvcError("unauthorized", "invalid token");
}

export function bearerAuth(auth: AuthConfig): MiddlewareHandler {
  return async (c, next) => {
    const access = tokenAccess(auth, c.req.header("authorization"));
    if (access === "full" || c.req.method === "GET" || c.req.method === "HEAD") return next();
    throw new KvcError("forbidden", "this token is read-only");
  };
}
