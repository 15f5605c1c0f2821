// Writers of unique keys through one ioredis Cluster client (RESP2), each write tagged with
// the phase it was sent in, so a test or a benchmark can tell what a client saw while the
// controller changed the cluster: errors, the longest stall, and acknowledged writes lost.
import { Cluster as ClusterClient } from "ioredis";
import { keySlot } from "./kvrocks-sim/keyslot.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A cluster client as an application would configure it: ioredis's defaults (16 redirections,
 * MOVED followed at once, TRYAGAIN retried every 100 ms), with only a command timeout of 1 s.
 * A migration must not need more: a range's write-forbidden phase and the redirects after it
 * have to fit in what these defaults ride out.
 */
export function clusterClient(seed: { host: string; port: number }): ClusterClient {
  const client = new ClusterClient([seed], {
    redisOptions: { protocol: 2, commandTimeout: 1000 },
  });
  client.on("error", () => {});
  return client;
}

/**
 * Counts the redirections and retries `client` is answered with (MOVED, TRYAGAIN, ...), by
 * the first word of the error: ioredis handles them inside, the caller never sees them.
 */
export function countRedirections(client: ClusterClient): Map<string, number> {
  const counts = new Map<string, number>();
  const inner = client as unknown as {
    handleError(error: Error, ttl: unknown, handlers: unknown): void;
  };
  const original = inner.handleError.bind(client);
  inner.handleError = (error, ttl, handlers) => {
    const word = error.message.split(" ")[0] ?? "";
    counts.set(word, (counts.get(word) ?? 0) + 1);
    original(error, ttl, handlers);
  };
  return counts;
}

export type Phase = "warmup" | "baseline" | "failover" | "switchover" | "migrate" | "scale";

export interface Stats {
  acked: Map<string, string>;
  errors: Map<Phase, number>;
  writes: Map<Phase, number>;
  lastError: Map<Phase, string>;
  /** The slowest acknowledged write of each phase: how long a client stalled. */
  maxLatencyMs: Map<Phase, number>;
  /** Every acknowledged write's latency (ms), per phase, when `keepLatencies` is set. */
  latencies: Map<Phase, number[]>;
}

/** Writers of unique keys through one ioredis Cluster client, tagged with the current phase. */
export class Load {
  phase: Phase = "warmup";
  readonly stats: Stats = {
    acked: new Map(),
    errors: new Map(),
    writes: new Map(),
    lastError: new Map(),
    maxLatencyMs: new Map(),
    latencies: new Map(),
  };
  /** Keep every write's latency (for percentiles), not only the slowest. */
  keepLatencies = false;
  private running = true;
  private loops: Promise<void>[] = [];
  /** When each acknowledged write of `timed` phases was sent and acknowledged. */
  readonly timing = new Map<string, { sentAt: number; ackedAt: number }>();
  timed = new Set<Phase>();
  /**
   * Writes per second across all writers, or null for as fast as acknowledgements come.
   * Paced: each writer sends its share at fixed intervals, so the offered load stays what
   * the test chose however fast the nodes answer.
   */
  rate: number | null = null;
  /** The first 100 failed writes: when, which slot, why (to tell a node's stall from a move). */
  readonly errorLog: { at: number; sentAt: number; phase: Phase; slot: number; message: string }[] =
    [];
  private writers = 0;
  /** The first write to a key of `slots` sent at or after `since` that succeeded, and when. */
  watch: { slots: (slot: number) => boolean; since: number; firstOk: number | null } | null = null;

  constructor(readonly client: ClusterClient) {}

  start(writers = 12): void {
    this.writers = writers;
    this.loops = Array.from({ length: writers }, (_, w) => this.writer(w));
  }

  private async writer(w: number): Promise<void> {
    let next = Date.now();
    for (let n = 0; this.running; n++) {
      if (this.rate !== null) {
        // Fixed intervals from the previous slot, not from the answer: a slow answer does
        // not lower the offered load, and a backlog is not sent in a burst either.
        next = Math.max(next + (1000 * this.writers) / this.rate, Date.now() - 1000);
        const wait = next - Date.now();
        if (wait > 0) await sleep(wait);
        if (!this.running) break;
      }
      const phase = this.phase;
      const key = `${phase}:w${w}:${n}`;
      const sentAt = Date.now();
      const value = `${n}-${sentAt}`;
      try {
        await this.client.set(key, value);
        const now = Date.now();
        this.stats.acked.set(key, value);
        if (this.timed.has(phase)) this.timing.set(key, { sentAt, ackedAt: now });
        this.stats.writes.set(phase, (this.stats.writes.get(phase) ?? 0) + 1);
        if (this.keepLatencies) {
          const list = this.stats.latencies.get(phase) ?? [];
          list.push(now - sentAt);
          this.stats.latencies.set(phase, list);
        }
        if (now - sentAt > (this.stats.maxLatencyMs.get(phase) ?? 0))
          this.stats.maxLatencyMs.set(phase, now - sentAt);
        const watch = this.watch;
        if (watch && watch.firstOk === null && sentAt >= watch.since && watch.slots(keySlot(key))) {
          watch.firstOk = now;
        }
      } catch (err) {
        if (this.errorLog.length < 100)
          this.errorLog.push({
            at: Date.now(),
            sentAt,
            phase,
            slot: keySlot(key),
            message: (err as Error).message,
          });
        this.stats.errors.set(phase, (this.stats.errors.get(phase) ?? 0) + 1);
        this.stats.lastError.set(phase, (err as Error).message);
        await sleep(5);
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Acknowledged writes of `phase` that do not read back with their value. */
  async lost(phase?: Phase): Promise<string[]> {
    const missing: string[] = [];
    const keys = [...this.stats.acked].filter(
      ([k]) => phase === undefined || k.startsWith(`${phase}:`),
    );
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const values = await Promise.all(chunk.map(([k]) => this.client.get(k)));
      chunk.forEach(([k, v], j) => {
        if (values[j] !== v) missing.push(k);
      });
    }
    return missing;
  }
}
