// A small, steady client load on the demo cluster, so that a newcomer's first look shows a
// working cluster: the console's charts (ops/s, keys, memory, replication lag) move, and a
// migration or a scale-out carries keys, not an empty keyspace. One ioredis Cluster client in
// the stack's own process writes keys `kvc-demo:0` ... `kvc-demo:<LOAD_KEYS - 1>` in turn (so
// after n writes the first n keys exist, which the stack test relies on) and reads one back for
// each write. `npm run local -- --no-load` turns it off.
import { Cluster } from "ioredis";

/** The keyspace the load cycles through: big enough to spread over every slot range. */
export const LOAD_KEYS = 10_000;
/** Writes a second (as many reads again): visible on the charts, negligible for the nodes. */
export const LOAD_WRITES_PER_SECOND = 50;
const TICK_MS = 100;

export const loadKey = (i: number): string => `kvc-demo:${i}`;

export interface LoadCounters {
  /** Writes sent: key `loadKey(issued % LOAD_KEYS)` is the next one. */
  issued: number;
  /** Writes and reads the cluster acknowledged. */
  writes: number;
  reads: number;
  /** Commands that failed (a node down during a failover, a migration's TRYAGAIN, a timeout). */
  errors: number;
  lastError: string | null;
}

export class ClientLoad {
  private readonly client: Cluster;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  readonly counters: LoadCounters = { issued: 0, writes: 0, reads: 0, errors: 0, lastError: null };

  constructor(seeds: string[]) {
    this.client = new Cluster(
      seeds.map((addr) => {
        const at = addr.lastIndexOf(":");
        return { host: addr.slice(0, at), port: Number(addr.slice(at + 1)) };
      }),
      {
        // Fail fast and follow redirects, as an application configured for Kvrocks would: a
        // failover or a migration's last increment costs a few failed commands, never a queue.
        redisOptions: { connectTimeout: 1000, commandTimeout: 2000, maxRetriesPerRequest: 1 },
        slotsRefreshInterval: 1000,
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        retryDelayOnTryAgain: 100,
        retryDelayOnMoved: 100,
        maxRedirections: 64,
      },
    );
    // A node down (kill-master) is reported through the failed commands' count, not thrown:
    // an EventEmitter's unhandled 'error' would end the stack.
    this.client.on("error", () => {});
  }

  start(): void {
    const perTick = Math.max(1, Math.round((LOAD_WRITES_PER_SECOND * TICK_MS) / 1000));
    this.timer = setInterval(() => {
      // At most one second of commands outstanding: while the cluster cannot answer (a master
      // killed, before its failover) the load waits instead of queueing without bound.
      if (this.inFlight >= LOAD_WRITES_PER_SECOND) return;
      for (let i = 0; i < perTick; i++) void this.one();
    }, TICK_MS);
    this.timer.unref();
  }

  private async one(): Promise<void> {
    const n = this.counters.issued++;
    const key = loadKey(n % LOAD_KEYS);
    this.inFlight++;
    try {
      await this.client.set(key, `${n} ${new Date().toISOString()}`);
      this.counters.writes++;
      // Read back a key written earlier (reads show on the charts too).
      await this.client.get(loadKey(Math.floor(Math.random() * Math.min(n + 1, LOAD_KEYS))));
      this.counters.reads++;
    } catch (err) {
      this.counters.errors++;
      this.counters.lastError = (err as Error).message;
    } finally {
      this.inFlight--;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.client.disconnect();
  }
}
