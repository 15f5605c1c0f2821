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
