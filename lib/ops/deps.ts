import type { NodePool } from "../kvrocks/index.js";
import type { Logger } from "../log.js";
import type { Cluster } from "../model/index.js";
import type { Store } from "../store/index.js";

/** How long a planned switchover waits for its new master to catch up, unless configured. */
export const DEFAULT_SWITCHOVER_CATCHUP_MS = 2000;

/**
 * The longest a planned switchover can hold its marker: its catch-up plus its node calls, and
 * the marker's lease TTL (a dead controller's marker expires after this).
 */
export function switchoverBoundMs(deps: Pick<OpsDeps, "switchoverCatchupMs" | "nodeTimeoutMs">) {
  return (deps.switchoverCatchupMs ?? DEFAULT_SWITCHOVER_CATCHUP_MS) + 6 * deps.nodeTimeoutMs;
}

/** What every operation needs; entry points build it once from the config. */
export interface OpsDeps {
  store: Store;
  /** Deadline for each call to a Kvrocks node. */
  nodeTimeoutMs: number;
  /** Wall time (ms since the epoch): for what is kept in etcd or compared across processes. */
  now: () => number;
  /**
   * A clock that never steps (ms, `performance.now()` when absent): for durations measured
   * within this process, such as down-after. Its values mean nothing elsewhere: never kept.
   */
  monotonic?: () => number;
  /** Connections kept between probe rounds of one invocation; none: one per call. */
  nodePool?: NodePool;
  /** Failovers, push failures, repairs and migration steps are logged with their reasons. */
  log: Logger;
  /** How long one migrating range may take before its task fails (config `migration.timeoutMs`). */
  migrationTimeoutMs?: number;
  /** A move with data is cut into ranges of at most this many slots (config, default 256). */
  migrationMaxRangeSlots?: number;
  /**
   * While a range migrates, a probe round polls the source every `everyMs` for up to `forMs`
   * and completes the range the moment the node reports success (config `migration.watch*`).
   */
  migrationWatch?: { everyMs: number; forMs: number };
  /** How long a planned switchover waits for the new master to catch up (config, default 2000). */
  switchoverCatchupMs?: number;
  /** The probe's safe-mode ratio (config `probe.safeModeRatio`): zone warnings measure by it. */
  safeModeRatio?: number;
  /**
   * Test seam: awaited after a topology change committed and before it is pushed (see
   * `pushCommitted`), where the nodes may complete a migration the commit did not fold.
   */
  beforePush?: (ns: string, cluster: Cluster) => Promise<void>;
}
