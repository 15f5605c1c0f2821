import type { Store } from "../store/index.js";

/** What every operation needs; entry points build it once from the config. */
export interface OpsDeps {
  store: Store;
  /** Deadline for each call to a Kvrocks node. */
  nodeTimeoutMs: number;
  now: () => number;
}
