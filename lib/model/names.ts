import { z } from "zod";

// Names become etcd key segments, so they must never contain "/" or whitespace.
export const ResourceName = z
  .string()
  .min(1, "must not be empty")
  .max(64, "must be at most 64 characters")
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "may contain letters, digits, '.', '_' and '-' only");

export const NodeId = z.string().length(40, "a node id is exactly 40 characters");

/** `host:port`, as Kvrocks and upstream's controller write addresses. */
export const Addr = z
  .string()
  .trim()
  .regex(/^[^\s:/]+:\d{1,5}$/, "must be host:port")
  .refine((addr) => {
    const port = Number(addr.slice(addr.lastIndexOf(":") + 1));
    return port >= 1 && port <= 65535;
  }, "port must be between 1 and 65535");

export function splitAddr(addr: string): { host: string; port: number } {
  const at = addr.lastIndexOf(":");
  return { host: addr.slice(0, at), port: Number(addr.slice(at + 1)) };
}
