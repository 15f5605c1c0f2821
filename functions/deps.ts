import type { OpsDeps } from "../lib/ops/index.js";
import type { AuthConfig } from "./auth.js";

export interface AppDeps {
  ops: OpsDeps;
  auth: AuthConfig;
  bodyLimitBytes: number;
  /** The failure count at which the probe fails a master over; shown by the health route. */
  probeFailures: number;
}

export type AppEnv = {
  Variables: {
    requestId: string;
    /** Set by routes that admit read-only tokens to a POST (commands). */
    readOnlyToken?: boolean;
  };
};
