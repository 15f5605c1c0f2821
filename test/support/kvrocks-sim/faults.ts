// Failure modes a test can switch on at any time with SimNode.setFault().

export type MigrationOutcome = "ok" | "fail" | "stuck";

export interface Faults {
  /** Accept connections and read requests, answer nothing until cleared (then answer in order). */
  hang: boolean;
  /** Delay before each command runs and its reply is sent. */
  delayMs: number;
  /** Restoring a backup: commands without Kvrocks's ok-loading flag answer LOADING. */
  loading: boolean;
  /** On a replica: a full sync never finishes (master_sync_in_progress:1, link down, no new writes). */
  fullSync: boolean;
  /** How migrations started on this node end: copy and succeed, fail, or stay in `start`. */
  migration: MigrationOutcome;
  /** Answer each request with bytes that are not RESP. */
  garbage: boolean;
  /** Reset each connection as soon as it sends anything. */
  reset: boolean;
}

export const defaultFaults = (): Faults => ({
  hang: false,
  delayMs: 0,
  loading: false,
  fullSync: false,
  migration: "ok",
  garbage: false,
  reset: false,
});
