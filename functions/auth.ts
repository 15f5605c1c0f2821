// Who is asking and whether they may: every request to the API passes here once. The
// decision is made from the method and the path alone, before any handler runs; handlers
// that list things narrow the list with `principalOf(c)`.
import type { Context, MiddlewareHandler } from "hono";
import { KvcError } from "../lib/errors.js";
import {
  describeScope,
  identify,
  isReadOnly,
  mayManageNamespaces,
  maySee,
  mayWrite,
  OPEN_ACCESS,
  type Principal,
} from "../lib/tokens.js";
import type { AppEnv } from "./deps.js";
import type { AuthConfig, TokenSource } from "./tokens-source.js";

export {
  isReadOnly,
  mayManageNamespaces,
  maySee,
  mayWrite,
  type Principal,
  visibleNamespaces,
} from "../lib/tokens.js";
export type { AuthConfig } from "./tokens-source.js";

/** Whether any token is configured; without one the API is open (and says so at start). */
export function authEnabled(auth: AuthConfig): boolean {
  return (
    auth.tokens.length > 0 ||
    auth.readonlyTokens.length > 0 ||
    (auth.namespaceTokens?.length ?? 0) > 0 ||
    auth.tokensFile !== undefined
  );
}

/** What every entry point logs (warn) at start when `authEnabled` is false. */
export const OPEN_API_WARNING =
  "no API tokens configured (KVC_API_TOKENS); the API is open to anyone who can reach it";

/**
 * The principal `bearerAuth` established for this request (an open API's is `OPEN_ACCESS`).
 * A route not behind `bearerAuth` has none: asking is a bug, and fails closed.
 */
export function principalOf(c: Context<AppEnv>): Principal {
  const principal: Principal | undefined = c.get("principal");
  if (principal === undefined) throw new Error("no principal: this route is not behind bearerAuth");
  return principal;
}

/** What a request needs, read from its method and path. */
type Access =
  | { kind: "self" }
  | { kind: "read"; namespace?: string }
  | { kind: "write"; namespace?: string }
  | { kind: "list-namespaces" }
  | { kind: "manage-namespaces"; namespace?: string }
  | { kind: "everything-read" };

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function accessFor(method: string, path: string): Access {
  const read = READ_METHODS.has(method);
  const parts = path.split("/").filter((p) => p !== "");
  if (read && parts.join("/") === "api/v1/token") return { kind: "self" };
  const at = parts.indexOf("namespaces");
  if (at === -1) return read ? { kind: "everything-read" } : { kind: "write" };
  const namespace = parts[at + 1] === undefined ? undefined : decodeSegment(parts[at + 1]!);
  if (namespace === undefined)
    return read ? { kind: "list-namespaces" } : { kind: "manage-namespaces" };
  if (parts.length === at + 2 && method === "DELETE")
    return { kind: "manage-namespaces", namespace };
  // Commands to nodes: read-only tokens may send some commands, so the route itself decides
  // once it knows the command (lib/ops/command-policy.ts).
  if (method === "POST" && parts.length === at + 5 && parts[at + 4] === "commands")
    return { kind: "read", namespace };
  return read ? { kind: "read", namespace } : { kind: "write", namespace };
}

/** A path segment decoded; a malformed escape (`%`) stays as it came. */
export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Throws the 403 that explains why `p` may not do `access`; returns when it may. */
export function authorize(p: Principal, access: Access): void {
  const limited = () =>
    new KvcError("forbidden", `token "${p.name}" is limited to ${describeScope(p)}`);
  switch (access.kind) {
    case "self":
    case "list-namespaces":
      return;
    case "everything-read":
      if (p.namespaces !== null)
        throw new KvcError(
          "forbidden",
          `token "${p.name}" is limited to ${describeScope(p)}; this covers every namespace`,
        );
      return;
    case "read":
      if (access.namespace !== undefined && !maySee(p, access.namespace)) throw limited();
      return;
    case "write":
      if (isReadOnly(p)) throw new KvcError("forbidden", "this token is read-only");
      if (!mayWrite(p, access.namespace)) throw limited();
      return;
    case "manage-namespaces":
      if (isReadOnly(p)) throw new KvcError("forbidden", "this token is read-only");
      if (mayManageNamespaces(p)) return;
      throw new KvcError(
        "forbidden",
        p.namespaces !== null
          ? `token "${p.name}" is limited to ${describeScope(p)} and may not create or delete namespaces`
          : `token "${p.name}" has role ${p.role}; creating or deleting namespaces needs role admin`,
      );
  }
}

export function bearerAuth(tokens: TokenSource): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    let principal = OPEN_ACCESS;
    if (tokens.enabled) {
      const header = c.req.header("authorization") ?? "";
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match)
        throw new KvcError("unauthorized", "missing bearer token (Authorization: Bearer <token>)");
      const found = identify(tokens.entries(), match[1]!);
      if (!found) throw new KvcError("unauthorized", "invalid token");
      principal = found;
    }
    c.set("principal", principal);
    // The open API's principal may do everything `authorize` knows of: no need to ask.
    if (principal !== OPEN_ACCESS) authorize(principal, accessFor(c.req.method, c.req.path));
    return next();
  };
}
