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

export function bearerAuth(auth: AuthConfig): MiddlewareHandler {
  return async (c, next) => {
    if (!authEnabled(auth)) return next();
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match)
      throw new KvcError("unauthorized", "missing bearer token (Authorization: Bearer <token>)");
    const token = match[1]!;
    if (matches(token, auth.tokens)) return next();
    if (matches(token, auth.readonlyTokens)) {
      if (c.req.method === "GET" || c.req.method === "HEAD") return next();
      throw new KvcError("forbidden", "this token is read-only");
    }
    throw new KvcError("unauthorized", "invalid token");
  };
}
