// Connections kept across probe rounds of one invocation: a `--for 55s --every 1s` run would
// otherwise open and close a connection to every node every second. Whoever creates a pool
// closes it; nothing here outlives its owner.
import { KvrocksClient, type NodeClientOptions } from "./client.js";
import { isNodeError } from "./errors.js";

export interface NodePoolOptions {
  /** A kept connection closed under us (see `NodeClientOptions.onLost`): its address. */
  onLost?: (addr: string) => void;
  /**
   * The clock `lostSince` reads: the probe's monotonic one (`performance.now()` by default),
   * since down-after is measured from it.
   */
  now?: () => number;
}

export class NodePool {
  constructor(private readonly poolOptions: NodePoolOptions = {}) {}

  private readonly clients = new Map<string, KvrocksClient>();
  /** Keys of `clients` by address: a new connection looks at its own address only. */
  private readonly keysByAddr = new Map<string, Set<string>>();
  /** Keys used since the last `closeIdle`. */
  private readonly used = new Set<string>();
  /** Address -> when a kept connection to it closed under us; forgotten once it answers. */
  private readonly lost = new Map<string, number>();

  /**
   * When the node closed a kept connection under us (killed, crashed, restarted) if it has
   * not answered since: the moment it went away, which a probe sent later only sees after
   * the fact.
   */
  lostSince(addr: string): number | undefined {
    return this.lost.get(addr);
  }

  async use<T>(
    addr: string,
    options: NodeClientOptions,
    fn: (client: KvrocksClient) => Promise<T>,
  ): Promise<T> {
    const key = `${addr}\u0000${options.password ?? ""}\u0000${options.timeoutMs ?? ""}`;
    this.used.add(key);
    const pooled = this.clients.get(key);
    if (!pooled) this.closeOtherPasswords(addr, options.password ?? "");
    let result: T;
    try {
      result = await this.run(key, pooled ?? this.open(key, addr, options), fn);
    } catch (err) {
      // A kept connection the node closed since (a restart) says nothing about the node now:
      // try once on a fresh one. A timeout is not retried, so the deadline still holds.
      if (!(pooled && isNodeError(err) && err.failure === "unreachable")) throw err;
      result = await this.run(key, this.open(key, addr, options), fn);
    }
    this.lost.delete(addr);
    return result;
  }

  private open(key: string, addr: string, options: NodeClientOptions): KvrocksClient {
    const { onLost, now = () => performance.now() } = this.poolOptions;
    const client = new KvrocksClient(addr, {
      ...options,
      onLost: () => {
        if (!this.lost.has(addr)) this.lost.set(addr, now());
        onLost?.(addr);
      },
    });
    this.clients.set(key, client);
    const keys = this.keysByAddr.get(addr) ?? new Set<string>();
    keys.add(key);
    this.keysByAddr.set(addr, keys);
    return client;
  }

  private forget(key: string): void {
    this.clients.delete(key);
    const addr = key.slice(0, key.indexOf("\u0000"));
    const keys = this.keysByAddr.get(addr);
    keys?.delete(key);
    if (keys?.size === 0) this.keysByAddr.delete(addr);
  }

  private async run<T>(
    key: string,
    client: KvrocksClient,
    fn: (client: KvrocksClient) => Promise<T>,
  ) {
    try {
      return await fn(client);
    } catch (err) {
      // After any error the connection's state is unknown (a late reply may still arrive):
      // never reuse it.
      if (this.clients.get(key) === client) this.forget(key);
      client.close();
      throw err;
    }
  }

  /**
   * A node's password changed: the connection authenticated with the old one is of no use
   * any more, and the node should not keep a session the operator meant to revoke.
   */
  private closeOtherPasswords(addr: string, password: string): void {
    for (const key of this.keysByAddr.get(addr) ?? []) {
      if (key.split("\u0000")[1] === password) continue;
      this.clients.get(key)?.close();
      this.forget(key);
    }
  }

  /**
   * Closes the connections not used since the previous call. Called once per probe pass over
   * every cluster: a node no longer in any cluster is not probed, so its connection goes.
   */
  closeIdle(): void {
    for (const [key, client] of this.clients) {
      if (this.used.has(key)) continue;
      this.forget(key);
      client.close();
    }
    const kept = new Set([...this.clients.keys()].map((key) => key.split("\u0000")[0]));
    for (const addr of this.lost.keys()) if (!kept.has(addr)) this.lost.delete(addr);
    this.used.clear();
  }

  /** Open connections, for metrics and tests. */
  get size(): number {
    return this.clients.size;
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    this.keysByAddr.clear();
    this.used.clear();
    this.lost.clear();
  }
}
