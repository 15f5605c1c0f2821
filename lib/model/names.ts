import { z } from "zod";

// Names become etcd key segments and URL path segments. Upstream accepts any string, and its
// etcd may hold names like `team@prod`: only what would break a key or a URL is refused.
const NAME_MAX_BYTES = 255;
const CONTROL = /[\u0000-\u001f\u007f]/;

export const ResourceName = z
  .string()
  .min(1, "must not be empty")
  .refine((name) => new TextEncoder().encode(name).length <= NAME_MAX_BYTES, {
    message: `must be at most ${NAME_MAX_BYTES} bytes`,
  })
  .refine((name) => !name.includes("/"), { message: "must not contain '/'" })
  .refine((name) => !CONTROL.test(name), { message: "must not contain control characters" })
  .refine((name) => name !== "." && name !== "..", {
    message: "must not be '.' or '..' (a URL would lose it)",
  });

export const NodeId = z.string().length(40, "a node id is exactly 40 characters");

/**
 * A failure domain (zone, rack): what a node is placed by. Letters, digits and `._-` only,
 * so kvctl's `host:port@zone` and comma-separated lists read it back unambiguously.
 */
export const Zone = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    "must be a zone name: letters, digits, '.', '_', '-' (at most 64)",
  );

/**
 * An IPv4 address in any form the C library's `inet_aton` reads (what `getaddrinfo`, and so
 * Kvrocks and Node's connect, accept as a numeric host): `127.1`, `0x7f.0.0.1`, `017.0.0.1`
 * (octal), `2130706433`. Dotted-quad decimal, or null when `host` is not numeric (a name).
 */
export function parseIPv4(host: string): string | null {
  const parts = host.split(".");
  if (parts.length > 4) return null;
  const values: number[] = [];
  for (const part of parts) {
    let value: number;
    if (/^0x[0-9a-f]+$/i.test(part)) value = Number.parseInt(part.slice(2), 16);
    else if (/^0[0-7]*$/.test(part)) value = Number.parseInt(part, 8);
    else if (/^[1-9][0-9]*$/.test(part)) value = Number(part);
    else return null;
    if (!Number.isSafeInteger(value)) return null;
    values.push(value);
  }
  // The last part fills every byte the parts before it did not: a.b is a.0.0.b.
  const head = values.slice(0, -1);
  const last = values[values.length - 1] as number;
  if (head.some((v) => v > 255) || last >= 2 ** (8 * (5 - values.length))) return null;
  const bytes = [...head];
  for (let i = 4 - values.length; i >= 0; i--) bytes.push(Math.floor(last / 256 ** i) % 256);
  return bytes.join(".");
}

/** A host as one spelling: lower case (DNS names are case-insensitive), IPv4 as dotted quad. */
export function canonicalHost(host: string): string {
  const lower = host.toLowerCase();
  return parseIPv4(lower) ?? lower;
}

/**
 * One spelling per address: `LocalHost:06379` -> `localhost:6379`, `127.1:6379` ->
 * `127.0.0.1:6379`. A name stays a name (what it resolves to can change; the claims compare
 * resolved addresses, see lib/store/addresses.ts). Anything that is not `host:port` is
 * returned trimmed, as it came.
 */
export function canonicalAddr(addr: string): string {
  const trimmed = addr.trim();
  const at = trimmed.lastIndexOf(":");
  if (at <= 0 || !/^\d+$/.test(trimmed.slice(at + 1))) return trimmed;
  return `${canonicalHost(trimmed.slice(0, at))}:${Number(trimmed.slice(at + 1))}`;
}

/**
 * `host:port`, as Kvrocks and upstream's controller write addresses, read into its canonical
 * spelling (`canonicalAddr`): a stored `h:06379` is `h:6379` in memory, compares equal to
 * what the node reports, and is written back that way. Upstream reads either.
 */
export const Addr = z
  .string()
  .trim()
  .regex(/^[^\s:/]+:\d+$/, "must be host:port")
  .refine((addr) => {
    const port = Number(addr.slice(addr.lastIndexOf(":") + 1));
    return port >= 1 && port <= 65535;
  }, "port must be between 1 and 65535")
  .overwrite(canonicalAddr);

export function splitAddr(addr: string): { host: string; port: number } {
  const at = addr.lastIndexOf(":");
  return { host: addr.slice(0, at), port: Number(addr.slice(at + 1)) };
}
