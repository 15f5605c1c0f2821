// Cross-site request forgery. With no token configured the caller is admin, and a JSON body
// is read whatever its Content-Type (upstream's clients send curl's form type), so a web page
// the operator merely opens could POST `text/plain` JSON here (FLUSHALL with force) without a
// CORS preflight. Browsers say where a request comes from; curl, kvctl and scripts send neither
// header and are not concerned. Applied whether or not tokens are configured.
import { isIP } from "node:net";
import type { Context, MiddlewareHandler } from "hono";
import { KvcError } from "../lib/errors.js";
import type { AppEnv } from "./deps.js";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** `scheme://host[:port]` as a browser writes it (default port dropped), or null. */
function normalOrigin(value: string): string | null {
  try {
    const origin = new URL(value).origin;
    return origin === "null" ? null : origin;
  } catch {
    return null;
  }
}

/**
 * The API's own origin: the scheme it was reached by and the request's Host. A proxy that
 * ends TLS says the scheme in X-Forwarded-Proto; a page cannot set that header on a request
 * without a preflight, which this API never grants, so trusting it opens nothing.
 */
function ownOrigin(c: Context<AppEnv>): string | null {
  const url = new URL(c.req.url);
  const forwarded = c.req.header("x-forwarded-proto")?.split(",")[0]?.trim();
  const scheme = forwarded || url.protocol.slice(0, -1);
  return normalOrigin(`${scheme}://${c.req.header("host") ?? url.host}`);
}

/**
 * Refuses (403) a mutation whose `Origin` is neither the API's own nor one of `allowed`
 * (KVC_ALLOWED_ORIGINS, normalized by lib/config), or that the browser marks
 * `Sec-Fetch-Site: cross-site` without coming from a listed origin.
 */
export function sameOriginMutations(allowed: readonly string[]): MiddlewareHandler<AppEnv> {
  const listed = new Set(allowed);
  return async (c, next) => {
    if (SAFE_METHODS.has(c.req.method)) return next();
    const origin = c.req.header("origin");
    if (origin !== undefined) {
      const normal = normalOrigin(origin);
      if (normal !== null && listed.has(normal)) return next();
      const own = ownOrigin(c);
      if (normal === null || normal !== own) {
        throw new KvcError(
          "forbidden",
          `cross-origin ${c.req.method} refused: origin ${origin} is not this API's own ` +
            `(${own ?? "unknown"}) nor listed in KVC_ALLOWED_ORIGINS`,
        );
      }
    }
    if (c.req.header("sec-fetch-site") === "cross-site") {
      throw new KvcError(
        "forbidden",
        `cross-site ${c.req.method} refused (Sec-Fetch-Site: cross-site): send it from this ` +
          "API's own origin or one listed in KVC_ALLOWED_ORIGINS",
      );
    }
    return next();
  };
}

/**
 * DNS rebinding: a page at `http://attacker.example:9379` whose name the attacker then points
 * at this API (127.0.0.1, a private address) is same-origin with it, so neither `Origin` nor
 * `Sec-Fetch-Site` gives it away and the page reads the answers; only the name in `Host` does.
 * With a token configured the page has none to send; the open API has nothing else. So, on
 * the open API, a browser's request (it says `Origin` or `Sec-Fetch-Site`; curl, kvctl and
 * scripts say neither, and keep working under any name) must name the API by an address,
 * `localhost` (which browsers resolve themselves, never through DNS), or an origin listed in
 * KVC_ALLOWED_ORIGINS. Reads included: the open API answers them to anyone who asks.
 */
export function knownHostForBrowsers(
  allowed: readonly string[],
  /** The API is open and nothing in front of it checks `Host` (see `AppDeps.hostGuarded`). */
  applies: () => boolean,
): MiddlewareHandler<AppEnv> {
  const listed = new Set(allowed);
  return async (c, next) => {
    if (!applies()) return next();
    if (c.req.header("origin") === undefined && c.req.header("sec-fetch-site") === undefined) {
      return next();
    }
    const own = ownOrigin(c);
    if (own !== null && listed.has(own)) return next();
    const hostname = own === null ? "" : new URL(own).hostname;
    const bare = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
    if (isIP(bare) !== 0 || bare === "localhost" || bare.endsWith(".localhost")) return next();
    throw new KvcError(
      "forbidden",
      `a browser reached this open API as ${c.req.header("host") ?? "an unknown host"}, a name ` +
        "any site can point at it (DNS rebinding): use its address or localhost, list " +
        `${own ?? "its origin"} in KVC_ALLOWED_ORIGINS, or configure tokens`,
    );
  };
}
