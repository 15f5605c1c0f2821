// Wires the core from a config: one etcd client, one store, the ops dependencies. Every entry
// point (HTTP server, Lambda, probe) opens one of these and closes it on exit.
import type { Etcd3 } from "etcd3";
import type { Config } from "./config/index.js";
import { createLogger, type Logger } from "./log.js";
import type { OpsDeps } from "./ops/index.js";
import { closeEtcd, createEtcd, readEtcdTls, Store, tlsFailureOf } from "./store/index.js";

export interface Runtime {
  config: Config;
  etcd: Etcd3;
  store: Store;
  ops: OpsDeps;
  log: Logger;
  close(): void;
}

/** Throws (naming the file) when a configured etcd TLS file cannot be read. */
export function openRuntime(config: Config, log: Logger = createLogger(config.logLevel)): Runtime {
  const etcd = createEtcd({
    endpoints: config.etcd.endpoints,
    username: config.etcd.username,
    password: config.etcd.password,
    callTimeoutMs: config.etcd.callTimeoutMs,
    tls: config.etcd.tls ? readEtcdTls(config.etcd.tls) : undefined,
  });
  const store = new Store(etcd, config.etcd.prefix);
  return {
    config,
    etcd,
    store,
    ops: {
      store,
      nodeTimeoutMs: config.nodeTimeoutMs,
      now: Date.now,
      migrationTimeoutMs: config.migration.timeoutMs,
      migrationMaxRangeSlots: config.migration.maxRangeSlots,
      migrationWatch: {
        everyMs: config.migration.watchEveryMs,
        forMs: config.migration.watchForMs ?? config.probe.intervalMs,
      },
      switchoverCatchupMs: config.switchoverCatchupMs,
      safeModeRatio: config.probe.safeModeRatio,
      log,
    },
    log,
    close: () => closeEtcd(etcd),
  };
}

/**
 * One etcd call at start, bounded by the call deadline. A TLS failure (untrusted server,
 * refused client certificate) will not heal by itself, so it comes back as the one line to
 * exit with; etcd merely being down does not (callers keep running and report 503s).
 */
export async function etcdStartupFailure(runtime: Runtime): Promise<string | undefined> {
  try {
    await runtime.store.ping();
    return undefined;
  } catch (err) {
    return tlsFailureOf(err);
  }
}
