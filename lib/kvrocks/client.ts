// The one way the controller talks to a Kvrocks node. Fail fast: the probe must finish within
// its budget even when a node accepts connections and never answers.
import { Redis, ReplyError } from "ioredis";
import { formatSlotRange, type SlotRange } from "../slots/index.js";
import { NodeError } from "./errors.js";
import {
  type ClusterInfo,
  type NodeInfo,
  type NodeLine,
  parseClusterInfo,
  parseClusterNodes,
  parseNodeInfo,
  parseReplicationInfo,
  type ReplicationInfo,
} from "./parse.js";

export interface NodeClientOptions {
  password?: string;
  /** Deadline for connecting and for each command. */
  timeoutMs?: number;
  /**
   * Called once when a connection that was up closes without `close()`: the node went away
   * (killed, restarted, cut off) and whoever keeps the connection may want to look now.
   */
  onLost?: () => void;
  /**
   * Closes the connection once the node has sent more than this many bytes: the reply is held
   * whole in memory (then as JSON) by a process that serves every namespace.
   */
  maxReplyBytes?: number;
}

export const DEFAULT_NODE_TIMEOUT_MS = 1000;

export class KvrocksClient {
  private readonly redis: Redis;
  private readonly timeoutMs: number;
  /** The first error the connection reported (see the constructor). */
  private connectionError: Error | null = null;
  private closing = false;

  constructor(
    readonly addr: string,
    options: NodeClientOptions = {},
  ) {
    const at = addr.lastIndexOf(":");
    this.timeoutMs = options.timeoutMs ?? DEFAULT_NODE_TIMEOUT_MS;
    this.redis = new Redis({
      host: addr.slice(0, at),
      port: Number(addr.slice(at + 1)),
      // Kvrocks answers HELLO 3 but stays on RESP2; ioredis 6 would default to RESP3.
      protocol: 2,
      password: options.password || undefined,
      lazyConnect: true,
      connectTimeout: this.timeoutMs,
      commandTimeout: this.timeoutMs,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      enableReadyCheck: false,
      retryStrategy: () => null,
      reconnectOnError: () => false,
    });
    // Errors are surfaced per call; an unhandled 'error' event would crash the process. The
    // first one is kept: when the connection dies (a reset, or a reply that is not RESP),
    // the calls fail with a generic "closed" / "not writeable", and this says why.
    this.redis.on("error", (err: Error) => {
      this.connectionError ??= err;
    });
    const max = options.maxReplyBytes;
    if (max !== undefined) {
      // Counted on the socket, before the parser builds the reply: the call then fails with
      // this error (see classify), and the bytes read so far are dropped with the connection.
      this.redis.on("connect", () => {
        let received = 0;
        const stream = this.redis.stream;
        stream.on("data", (chunk: Buffer) => {
          received += chunk.length;
          if (received <= max) return;
          this.connectionError ??= new Error(`reply larger than ${max} bytes: not relayed`);
          stream.destroy();
        });
      });
    }
    const onLost = options.onLost;
    if (onLost) {
      // Only a connection that was up: a node that refuses every connect is no news each time.
      let up = false;
      this.redis.on("ready", () => {
        up = true;
      });
      this.redis.on("close", () => {
        if (up && !this.closing) onLost();
        up = false;
      });
    }
  }

  /** One command with an outer deadline: `commandTimeout` alone misses a silent handshake. */
  call(...args: (string | number)[]): Promise<unknown> {
    return this.withDeadline(this.send(args));
  }

  private async withDeadline<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new NodeError(this.addr, "timeout", `no answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Runs `issue`, whose calls made synchronously go out in one write (one system call) when
   * the connection is up; each keeps its own reply, error and deadline.
   */
  private together<T>(issue: () => T): T {
    const stream = this.redis.status === "ready" ? this.redis.stream : null;
    stream?.cork();
    try {
      return issue();
    } finally {
      stream?.uncork();
    }
  }

  private connecting: Promise<void> | null = null;

  /** One connect for all concurrent calls: a second connect() while the first runs fails. */
  private connect(): Promise<void> {
    if (this.redis.status === "ready") return Promise.resolve();
    this.connecting ??= this.redis.connect().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  /** Written at once when the connection is up (see `together`), else once it is. */
  private send(args: (string | number)[]): Promise<unknown> {
    const [command, ...rest] = args;
    const written =
      this.redis.status === "ready"
        ? this.redis.call(String(command), ...rest.map(String))
        : this.connect().then(() => this.redis.call(String(command), ...rest.map(String)));
    return written.catch((err: unknown) => {
      throw this.classify(err);
    });
  }

  private classify(err: unknown): NodeError {
    if (err instanceof NodeError) return err;
    let message = err instanceof Error ? err.message : String(err);
    if (err instanceof ReplyError) return new NodeError(this.addr, "reply", message, message);
    if (this.connectionError && /Stream isn't writeable|Connection is closed/i.test(message)) {
      message = this.connectionError.message;
    }
    // ioredis's decoder, given bytes that are not RESP, asks to "report this": not its bug.
    if (/^Unknown RESP type|Protocol error/i.test(message)) {
      const detail = message.replace(/\. Please report this\.?$/, "");
      return new NodeError(
        this.addr,
        "bad_reply",
        `answered something that is not RESP (${detail})`,
      );
    }
    // ioredis's own command deadline and ours are the same length; either may fire first.
    if (/^Command timed out$/i.test(message))
      return new NodeError(this.addr, "timeout", `no answer within ${this.timeoutMs} ms`);
    if (/timed? ?out/i.test(message)) return new NodeError(this.addr, "timeout", message);
    // ioredis reports auth failures during connect as plain errors carrying the reply text.
    if (/^(NOAUTH|ERR|WRONGPASS)/.test(message)) {
      return new NodeError(this.addr, "reply", message, message);
    }
    return new NodeError(this.addr, "unreachable", message);
  }

  private async text(...args: (string | number)[]): Promise<string> {
    const reply = await this.call(...args);
    if (typeof reply !== "string") {
      throw new NodeError(this.addr, "bad_reply", `${args[0]} answered ${typeof reply}`);
    }
    return reply;
  }

  private parse<T>(what: string, text: string, parser: (text: string) => T): T {
    try {
      return parser(text);
    } catch (err) {
      throw new NodeError(this.addr, "bad_reply", `unreadable ${what}: ${(err as Error).message}`);
    }
  }

  async clusterInfo(): Promise<ClusterInfo> {
    return this.parse("CLUSTER INFO", await this.text("CLUSTER", "INFO"), parseClusterInfo);
  }

  async clusterNodes(): Promise<NodeLine[]> {
    return this.parse("CLUSTER NODES", await this.text("CLUSTER", "NODES"), parseClusterNodes);
  }

  /** Replication and keyspace sections together: what a failover decision needs. */
  async replicationInfo(): Promise<ReplicationInfo> {
    const [replication, keyspace] = await Promise.all([
      this.text("INFO", "replication"),
      this.text("INFO", "keyspace"),
    ]);
    return this.parse("INFO", `${replication}\r\n${keyspace}`, parseReplicationInfo);
  }

  /**
   * What a probe looks at, in one write: CLUSTER NODES (its error thrown: not initialized,
   * loading), and INFO replication + keyspace (null when it fails or is late: not every
   * caller needs it).
   */
  async probeView(): Promise<{ view: NodeLine[]; replication: ReplicationInfo | null }> {
    const [view, replication] = this.together(() => [
      this.clusterNodes(),
      this.replicationInfo().catch(() => null),
    ]);
    return { view: await view, replication: await replication };
  }

  /** One `INFO` (all sections: Kvrocks takes at most one name) for the live statistics. */
  async info(): Promise<NodeInfo> {
    return this.parse("INFO", await this.text("INFO"), parseNodeInfo);
  }

  async version(): Promise<number> {
    const reply = await this.call("CLUSTERX", "VERSION");
    const version = Number(reply);
    if (!Number.isInteger(version)) {
      throw new NodeError(this.addr, "bad_reply", `CLUSTERX VERSION answered ${String(reply)}`);
    }
    return version;
  }

  /**
   * `CONFIG GET <name>` of one setting: its value, or null when the node has no such setting.
   * Kvrocks 2.10.1 matches an exact name or `*` only (`migrate-*` answers nothing).
   */
  async configGet(name: string): Promise<string | null> {
    const reply = await this.call("CONFIG", "GET", name);
    if (!Array.isArray(reply)) {
      throw new NodeError(this.addr, "bad_reply", `CONFIG GET answered ${typeof reply}`);
    }
    const at = reply.findIndex((v, i) => i % 2 === 0 && String(v).toLowerCase() === name);
    return at === -1 ? null : String(reply[at + 1]);
  }

  async configSet(name: string, value: string): Promise<void> {
    await this.call("CONFIG", "SET", name, value);
  }

  async myId(): Promise<string> {
    return this.text("CLUSTERX", "MYID");
  }

  async setNodeId(id: string): Promise<void> {
    await this.call("CLUSTERX", "SETNODEID", id);
  }

  async setNodes(text: string, version: number, force = false): Promise<void> {
    const args: (string | number)[] = ["CLUSTERX", "SETNODES", text, version];
    if (force) args.push("force");
    await this.call(...args);
  }

  /**
   * `CLUSTER IMPORT <range> <state>` (0 start, 2 failed): what a migrating source sends its
   * target over the migration link. Kvrocks refuses it for a range the node owns any slot of.
   */
  async clusterImport(range: SlotRange, state: 0 | 2): Promise<void> {
    await this.call("CLUSTER", "IMPORT", formatSlotRange(range), state);
  }

  /**
   * One page of `SCAN <cursor> COUNT <count>`, keys as raw bytes (a key's slot is computed from
   * its bytes). In cluster mode Kvrocks returns keys in slot order: it stores each key behind
   * its slot and scans in storage order (Database::Scan, v2.10).
   */
  async scan(cursor: string, count: number): Promise<{ cursor: string; keys: Buffer[] }> {
    const work = this.connect().then(() =>
      this.redis.callBuffer("SCAN", cursor, "COUNT", String(count)),
    );
    const reply = await this.withDeadline(
      work.catch((err: unknown) => {
        throw this.classify(err);
      }),
    );
    if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) {
      throw new NodeError(
        this.addr,
        "bad_reply",
        "SCAN answered something else than [cursor, keys]",
      );
    }
    return { cursor: String(reply[0]), keys: (reply[1] as unknown[]).map((k) => k as Buffer) };
  }

  /** Starts an asynchronous data migration; progress shows in the source's CLUSTER INFO. */
  async migrate(range: SlotRange, destinationId: string): Promise<void> {
    await this.call("CLUSTERX", "MIGRATE", formatSlotRange(range), destinationId);
  }

  /**
   * `CLIENT PAUSE <ms> WRITE`: true if the node paused writes, false if it does not know the
   * command (Kvrocks 2.10.1 answers an error): callers then go without.
   */
  async pauseWrites(ms: number): Promise<boolean> {
    try {
      await this.call("CLIENT", "PAUSE", ms, "WRITE");
      return true;
    } catch {
      return false;
    }
  }

  async unpause(): Promise<void> {
    await this.call("CLIENT", "UNPAUSE");
  }

  close(): void {
    this.closing = true;
    this.redis.disconnect();
  }
}

/** Opens a client for the duration of `fn` and always closes it. */
export async function withNode<T>(
  addr: string,
  options: NodeClientOptions,
  fn: (client: KvrocksClient) => Promise<T>,
): Promise<T> {
  const client = new KvrocksClient(addr, options);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}
