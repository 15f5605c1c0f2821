// When two addresses are one node's. The stored cluster keeps an address as the operator
// gave it, in one spelling (`canonicalAddr`: port without leading zeros, lower-case host,
// IPv4 as a dotted quad), so a name stays a name and upstream's controller reads it back. The
// claims compare more: what each address connects to, resolved when an address is claimed.
// `localhost:6379` resolves to `127.0.0.1:6379` (and `[::1]:6379`), so it collides with a
// stored `127.0.0.1:6379`, and the other way round.
//
// Resolution is a best effort bounded in time: a name that does not resolve now (a node not
// started yet, a DNS outage) keeps only its own spelling, so two identical names still
// collide. Aliases no spelling or resolution reveals (`0.0.0.0`, a second interface of the
// same host) are caught by asking the node who it is, before it joins and at every push
// (lib/ops/checks.ts, lib/topology/push.ts).
import { lookup } from "node:dns/promises";
import { isIPv4 } from "node:net";
import { canonicalAddr, splitAddr } from "../model/index.js";

/** The IP addresses `host` resolves to; none (or a throw) when it does not. */
export type Resolver = (host: string) => Promise<string[]>;

const RESOLVE_TIMEOUT_MS = 1000;
const CACHE_MS = 10_000;
const CACHE_MAX = 10_000;

const cache = new Map<string, { ips: string[]; at: number }>();

/**
 * The system resolver (what Node's connect uses). Each answer is kept for 10 s, a failure
 * too (as no address): a scan of every cluster must not wait a second per unresolvable name
 * each time, and a lookup that hangs keeps one of libuv's few threads busy.
 */
export const systemResolver: Resolver = async (host) => {
  const now = Date.now();
  const hit = cache.get(host);
  if (hit && now - hit.at < CACHE_MS) return hit.ips;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${host}: no answer`)), RESOLVE_TIMEOUT_MS);
  });
  let ips: string[] = [];
  try {
    ips = (await Promise.race([lookup(host, { all: true }), deadline])).map((a) => a.address);
  } catch {
    // Unresolvable now: the name is compared as spelt (see `addressKeys`).
  } finally {
    clearTimeout(timer);
  }
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(host, { ips, at: now });
  return ips;
};

const ipKey = (ip: string, port: number) => (isIPv4(ip) ? `${ip}:${port}` : `[${ip}]:${port}`);

/**
 * For each address (in any spelling), the keys two addresses of one node share: its canonical
 * spelling and every `ip:port` its host resolves to now.
 */
export async function addressKeys(
  addrs: Iterable<string>,
  resolve: Resolver = systemResolver,
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const names = new Map<string, Promise<string[]>>();
  const pending: Promise<void>[] = [];
  for (const addr of addrs) {
    if (out.has(addr)) continue;
    const canonical = canonicalAddr(addr);
    const keys = [canonical];
    out.set(addr, keys);
    const at = canonical.lastIndexOf(":");
    if (at <= 0) continue;
    const { host, port } = splitAddr(canonical);
    if (isIPv4(host)) continue;
    let ips = names.get(host);
    if (!ips) {
      ips = resolve(host).catch(() => []);
      names.set(host, ips);
    }
    pending.push(
      ips.then((list) => {
        for (const ip of list) {
          const key = ipKey(ip, port);
          if (!keys.includes(key)) keys.push(key);
        }
      }),
    );
  }
  await Promise.all(pending);
  return out;
}
