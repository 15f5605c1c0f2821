import type { OpsDeps } from "../lib/ops/index.js";
import type { Principal } from "../lib/tokens.js";
import type { AuthConfig } from "./tokens-source.js";

export interface AppDeps {
  ops: OpsDeps;
  auth: AuthConfig;
  bodyLimitBytes: number;
  /** Browser origins besides the API's own that may send changes (KVC_ALLOWED_ORIGINS); none if absent. */
  allowedOrigins?: readonly string[];
  /**
   * The platform in front answers only requests that name it in `Host` (API Gateway), so a
   * name rebound to it never arrives: the open API's DNS-rebinding check (origin.ts) is skipped.
   */
  hostGuarded?: boolean;
  /** The failure count at which the probe fails a master over; shown by the health route. */
  probeFailures: number;
}

export type AppEnv = {
  Variables: {
    requestId: string;
    /** Who the request's token speaks for; set by `bearerAuth` (see `principalOf`). */
    principal: Principal;
    /** The cluster version a mutation produced, for the audit line (see `noteVersion`). */
    version: number;
  };
};
