// Lease-backed locks with a fence. etcd3's lock() cannot wait, reports no loss and has no
// fence, so a holder whose lease expired could still write; here every write made under
// a lock can carry the lock's fence, and etcd refuses it once the lease is gone.
import { hostname } from "node:os";
import type { Etcd3, ICompare } from "etcd3";
import { conflict, invalid, KvcError } from "../errors.js";
import { grantLease, LeaseKeeper, revokeLease } from "./lease.js";
import { commit, is, op } from "./txn.js";

/**
 * Proof of holding a lock: the lock key still carries the holder's lease. Add it to a
 * transaction with `fenceCompare` (or etcd3's `.and(key, "Lease", "==", lease)`).
 */
export interface Fence {
  readonly key: string;
  readonly lease: string;
}

export function fenceCompare(fence: Fence): ICompare {
  return is.leasedBy(fence.key, fence.lease);
}

export interface Lock {
  readonly key: string;
  readonly fence: Fence;
  /** Aborted (with a KvcError reason) once the lock is lost or released. */
  readonly signal: AbortSignal;
  /** Revokes the lease (which deletes the key); never throws, leaves no timer behind. */
  release(): Promise<void>;
}

export interface LockOptions {
  ttlSeconds: number;
}

export interface AcquireOptions extends LockOptions {
  /** How long to keep trying while someone else holds the lock. */
  waitMs: number;
  /** Pause between attempts (jittered); default 100 ms. */
  retryMs?: number;
}

const holderName = `${hostname()}:${process.pid}`;

class HeldLock implements Lock {
  readonly fence: Fence;
  private released = false;

  constructor(
    readonly key: string,
    private readonly etcd: Etcd3,
    private readonly keeper: LeaseKeeper,
  ) {
    this.fence = { key, lease: keeper.lease.id };
  }

  get signal(): AbortSignal {
    return this.keeper.signal;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.keeper.stop(new KvcError("conflict", `lock ${this.key} was released`));
    await revokeLease(this.etcd, this.keeper.lease.id);
  }
}

/** Takes the lock if nobody holds it; null when it is held elsewhere. */
export async function tryLock(
  etcd: Etcd3,
  key: string,
  options: LockOptions,
): Promise<Lock | null> {
  const { ttlSeconds } = options;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
    throw invalid(
      `lock TTL must be a whole number of seconds >= 1, got ${ttlSeconds}`,
      "ttlSeconds",
    );
  }
  const lease = await grantLease(etcd, ttlSeconds);
  let taken = false;
  try {
    const res = await commit(etcd, {
      compare: [is.absent(key)],
      success: [op.put(key, holderName, lease.id)],
    });
    taken = res.succeeded;
  } finally {
    // Also on error: the put may have landed, and revoking the lease removes it.
    if (!taken) await revokeLease(etcd, lease.id);
  }
  if (!taken) return null;
  return new HeldLock(key, etcd, new LeaseKeeper(etcd, lease, `lock ${key}`));
}

/** Retries `tryLock` until it succeeds or `waitMs` has passed (then `conflict`). */
export async function acquireLock(
  etcd: Etcd3,
  key: string,
  options: AcquireOptions,
): Promise<Lock> {
  const giveUpAt = performance.now() + options.waitMs;
  const retryMs = options.retryMs ?? 100;
  for (;;) {
    const lock = await tryLock(etcd, key, options);
    if (lock) return lock;
    const left = giveUpAt - performance.now();
    if (left <= 0) {
      throw conflict(`lock ${key} is held elsewhere; gave up after ${options.waitMs} ms`);
    }
    const pause = Math.min(left, retryMs / 2 + Math.random() * retryMs);
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}
