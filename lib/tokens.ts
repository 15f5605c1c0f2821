// The token model: who a bearer token speaks for (a name, a role, maybe a set of namespaces),
// how tokens are written in the configuration, and what a principal may do. Tokens are held
// as SHA-256 digests only, so a tokens file can carry digests instead of secrets, and every
// comparison takes the same time whichever token (if any) matches.
import { createHash, timingSafeEqual } from "node:crypto";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { invalid } from "./errors.js";
import { ResourceName } from "./model/index.js";

export const Role = z.enum(["admin", "write", "read"]);
export type Role = z.infer<typeof Role>;

export interface Principal {
  /** What the audit trail and error messages call the token; never the token itself. */
  name: string;
  /** admin: everything; write: clusters, not namespaces; read: GET only. */
  role: Role;
  /** The only namespaces this token may see and touch; null = all of them. */
  namespaces: readonly string[] | null;
}

export interface TokenEntry {
  principal: Principal;
  /** SHA-256 of the token. */
  digest: Buffer;
}

/** Who answers when no token is configured at all: the API is open. */
export const OPEN_ACCESS: Principal = { name: "anonymous", role: "admin", namespaces: null };

export function tokenDigest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

/** A stable name for a token configured without one: 8 hex digits of its digest. */
export function shortName(token: string): string {
  return `token-${tokenDigest(token).toString("hex").slice(0, 8)}`;
}

const TokenName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,62}$/, "must be letters, digits, _ . @ - (max 63)");

/** Splits `name:token` (a name as TokenName allows) from a bare token, which has no name. */
export function splitTokenEntry(entry: string): { name: string | undefined; token: string } {
  const at = entry.indexOf(":");
  const name = entry.slice(0, Math.max(at, 0));
  if (at > 0 && at < entry.length - 1 && TokenName.safeParse(name).success)
    return { name, token: entry.slice(at + 1) };
  return { name: undefined, token: entry };
}

/** `name:token` or a bare token. */
export function parseTokenEntry(entry: string, role: Role): TokenEntry {
  const { name, token } = splitTokenEntry(entry);
  return {
    principal: { name: name ?? shortName(token), role, namespaces: null },
    digest: tokenDigest(token),
  };
}

/** `namespace=token`: write access to that namespace's clusters only. */
export function parseNamespaceTokenEntry(entry: string): TokenEntry {
  const at = entry.indexOf("=");
  const namespace = entry.slice(0, at);
  const token = entry.slice(at + 1);
  if (at <= 0 || token === "" || !ResourceName.safeParse(namespace).success)
    throw invalid(
      `KVC_NAMESPACE_TOKENS: an entry is not namespace=token (namespace "${at > 0 ? namespace : ""}")`,
      "KVC_NAMESPACE_TOKENS",
    );
  return {
    principal: { name: `${namespace}-${shortName(token)}`, role: "write", namespaces: [namespace] },
    digest: tokenDigest(token),
  };
}

const FileToken = z
  .object({
    name: TokenName,
    token: z.string().min(8, "must be at least 8 characters").optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex digits")
      .optional(),
    role: Role,
    namespaces: z.array(ResourceName).min(1).optional(),
  })
  .strict()
  .refine((t) => (t.token === undefined) !== (t.sha256 === undefined), {
    message: "needs exactly one of token or sha256",
  });
const TokensFile = z.array(FileToken);

/**
 * Parses a tokens file (YAML: a list, or `tokens:` holding one, of {name, token | sha256,
 * role, namespaces?}). Errors name the entry and field, never a value: the file is a secret.
 */
export function parseTokensFile(text: string, source: string): TokenEntry[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const line = lines.linePos(yamlError.pos[0]).line;
    throw invalid(`tokens file ${source}: not valid YAML (line ${line})`, "tokens_file");
  }
  const raw: unknown = doc.toJS() ?? [];
  const listed =
    raw !== null && typeof raw === "object" && !Array.isArray(raw) && "tokens" in raw
      ? (raw.tokens ?? [])
      : raw;
  const parsed = TokensFile.safeParse(listed);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = issue.path.length > 0 ? `entry ${issue.path.join(".")}: ` : "";
    throw invalid(`tokens file ${source}: ${at}${issue.message}`, "tokens_file");
  }
  const list = parsed.data;
  const seen = new Set<string>();
  return list.map((t) => {
    if (seen.has(t.name))
      throw invalid(`tokens file ${source}: name "${t.name}" appears twice`, "tokens_file");
    seen.add(t.name);
    return {
      principal: { name: t.name, role: t.role, namespaces: t.namespaces ?? null },
      digest: t.sha256 ? Buffer.from(t.sha256, "hex") : tokenDigest(t.token!),
    };
  });
}

/**
 * The principal a presented token belongs to. Compares against every entry, in constant
 * time each, so timing reveals neither which entry matched nor how much of a token did.
 */
export function identify(entries: readonly TokenEntry[], token: string): Principal | undefined {
  const given = tokenDigest(token);
  let found: Principal | undefined;
  for (const entry of entries) {
    if (timingSafeEqual(entry.digest, given) && found === undefined) found = entry.principal;
  }
  return found;
}

// --- what a principal may do ---------------------------------------------------------------

export function isReadOnly(p: Principal): boolean {
  return p.role === "read";
}

export function maySee(p: Principal, namespace: string): boolean {
  return p.namespaces === null || p.namespaces.includes(namespace);
}

/** May change clusters in `namespace` (or, without one, anything at all). */
export function mayWrite(p: Principal, namespace?: string): boolean {
  if (isReadOnly(p)) return false;
  return namespace === undefined ? p.namespaces === null : maySee(p, namespace);
}

/** Creating and deleting namespaces: unscoped admins only. */
export function mayManageNamespaces(p: Principal): boolean {
  return p.role === "admin" && p.namespaces === null;
}

export function visibleNamespaces(p: Principal, namespaces: readonly string[]): string[] {
  return namespaces.filter((ns) => maySee(p, ns));
}

export function describeScope(p: Principal): string {
  if (p.namespaces === null) return "every namespace";
  const list = p.namespaces.join(", ");
  return p.namespaces.length === 1 ? `namespace ${list}` : `namespaces ${list}`;
}
