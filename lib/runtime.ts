// Wires the core from a config: one etcd client, one store, the ops dependencies. Every entry
// point (HTTP server, Lambda, probe) opens one of these and closes it on exit.
import type { Etcd3 } from "etcd3";
import type { Config } from "./config/index.js";
import { createLogger, type Logger } from "./log.js";
import type { OpsDeps } from "./ops/index.js";
import { closeEtcd, createEtcd, Store } from "./store/index.js";

export interface Runtime {
  config: Config;
  etcd: Etcd3;
  store: Store;
  ops: OpsDeps;
  log: Logger;
  close(): void;
}

export function openRuntime(config: Config, log: Logger = createLogger(config.logLevel)): Runtime {
  const etcd = createEtcd({
    endpoints: config.etcd.endpoints,
    username: config.etcd.username,
    password: config.etcd.password,
    callTimeoutMs: config.etcd.callTimeoutMs,
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
      switchoverCatchupMs: config.switchoverCatchupMs,
      log,
    },
    log,
    close: () => closeEtcd(etcd),
  };
}
