// etcd leases kept alive by hand. etcd3's Lease keeps a stream open for its whole life,
// gives no deadline on renewals and keeps the process alive; here each renewal is one
// short call with a deadline, the only timer is unref'd, and the holder learns of a loss
// through an AbortSignal.
import { type Etcd3, EtcdLeaseInvalidError } from "etcd3";
import { conflict, type KvcError, unavailable } from "../errors.js";
import { toStoreError } from "./client.js";

/** Upper bound of one renewal call. */
const RENEW_TIMEOUT_MS = 2000;
/** Pause before retrying a renewal that failed (etcd unreachable), while time is left. */
const RETRY_MS = 200;

export interface GrantedLease {
  id: string;
  ttlMs: number;
  /** `performance.now()` when the grant was sent: etcd's clock starts after this. */
  sentAt: number;
}

export async function grantLease(etcd: Etcd3, ttlSeconds: number): Promise<GrantedLease> {
  const sentAt = performance.now();
  try {
    const res = await etcd.leaseClient.leaseGrant({ TTL: ttlSeconds });
    return { id: res.ID, ttlMs: Number(res.TTL) * 1000, sentAt };
  } catch (err) {
    throw toStoreError(err);
  }
}

/**
 * Revokes `id`, or throws (as a store error) unless etcd answered that it is gone: the caller
 * must not go on as if the lease were gone when it may live on.
 */
export async function revokeLeaseOrThrow(etcd: Etcd3, id: string): Promise<void> {
  try {
    await etcd.leaseClient.leaseRevoke({ ID: id });
  } catch (err) {
    if (err instanceof EtcdLeaseInvalidError) return; // expired or revoked already
    throw toStoreError(err);
  }
}

/** Best effort: a lease that cannot be revoked expires by itself after its TTL. */
export async function revokeLease(etcd: Etcd3, id: string): Promise<void> {
  try {
    await etcd.leaseClient.leaseRevoke({ ID: id });
  } catch {
    // unreachable, or already expired: either way it will not outlive its TTL
  }
}

/** One keepalive round trip; resolves to the TTL etcd granted (0: lease is gone). */
async function renewOnce(etcd: Etcd3, id: string, timeoutMs: number): Promise<number> {
  const stream = await etcd.leaseClient.leaseKeepAlive({
    deadline: new Date(Date.now() + timeoutMs),
  });
  return new Promise<number>((resolve, reject) => {
    stream.on("data", (res) => resolve(Number(res.TTL)));
    // Listeners stay attached after settling, so a late error is never unhandled.
    stream.on("error", (err) => reject(err));
    stream.on("end", () => reject(new Error("keepalive stream ended without an answer")));
    stream.write({ ID: id });
    // Half-close at once: etcd answers, sees end-of-stream and closes the call cleanly.
    stream.end();
  });
}

/** Renews a lease every TTL/3 until stopped; aborts `signal` once it may have expired. */
export class LeaseKeeper {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> | undefined;
  private stopped = false;
  /** Local monotonic time by which etcd has certainly not expired the lease yet. */
  private expiresAt: number;
  private lastError = "";

  constructor(
    private readonly etcd: Etcd3,
    readonly lease: GrantedLease,
    private readonly what: string,
  ) {
    this.expiresAt = lease.sentAt + lease.ttlMs;
    this.schedule(lease.ttlMs / 3);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Stops renewing and waits for a renewal in flight, so no timer or call is left. */
  async stop(reason: KvcError): Promise<void> {
    this.halt(reason);
    await this.inflight;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    const untilExpiry = Math.max(0, this.expiresAt - performance.now());
    this.timer = setTimeout(() => this.tick(), Math.min(delayMs, untilExpiry));
    // A forgotten lock must not keep the process alive; its lease then simply expires.
    this.timer.unref();
  }

  private tick(): void {
    this.timer = undefined;
    this.inflight = this.renew().finally(() => {
      this.inflight = undefined;
    });
  }

  private async renew(): Promise<void> {
    const now = performance.now();
    if (now >= this.expiresAt) {
      const why = this.lastError ? ` (${this.lastError})` : "";
      this.halt(unavailable(`${this.what}: its lease could not be renewed in time${why}`));
      return;
    }
    let ttlSeconds: number;
    try {
      ttlSeconds = await renewOnce(
        this.etcd,
        this.lease.id,
        Math.min(RENEW_TIMEOUT_MS, this.expiresAt - now),
      );
    } catch (err) {
      this.lastError = toStoreError(err).message;
      this.schedule(RETRY_MS);
      return;
    }
    if (this.stopped) return;
    if (ttlSeconds <= 0) {
      this.halt(conflict(`${this.what}: its lease expired or was revoked`));
      return;
    }
    this.lastError = "";
    this.expiresAt = now + ttlSeconds * 1000;
    this.schedule(this.lease.ttlMs / 3);
  }

  private halt(reason: KvcError): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.controller.abort(reason);
  }
}
