// INFO text, section by section in Kvrocks's order and wording (Server::GetInfo). Values
// that depend on a real host (memory, disk, CPU) are fixed plausible numbers. As in
// Kvrocks, Replication, Keyspace and RocksDB are left out while the node is loading.

import { arch, machine, release, type } from "node:os";
import type { KvrocksNode } from "./node.js";
import { opsPerSecond } from "./ops-meter.js";

export const KVROCKS_VERSION = "2.10.1";
export const REDIS_VERSION = "4.0.0";
export const GIT_SHA = "dc4d5303";

const DISK_CAPACITY = 270553346430;
const USED_DISK = 186148818944;

type Section = (node: KvrocksNode) => string;

const server: Section = (node) => {
  const mode = node.config.clusterEnabled ? "cluster" : "standalone";
  const up = Math.floor((Date.now() - node.startedAt) / 1000);
  return (
    "# Server\r\n" +
    `version:${node.config.kvrocksVersion}\r\n` +
    `kvrocks_version:${node.config.kvrocksVersion}\r\n` +
    `redis_version:${REDIS_VERSION}\r\n` +
    `git_sha1:${GIT_SHA}\r\n` +
    `kvrocks_git_sha1:${GIT_SHA}\r\n` +
    `redis_mode:${mode}\r\n` +
    `kvrocks_mode:${mode}\r\n` +
    `os:${type()} ${release()} ${machine()}\r\n` +
    "gcc_version:11.4.0\r\n" +
    `arch_bits:${arch().includes("64") ? 64 : 32}\r\n` +
    `process_id:${process.pid}\r\n` +
    `tcp_port:${node.config.port}\r\n` +
    `uptime_in_seconds:${up}\r\n` +
    `uptime_in_days:${Math.floor(up / 86400)}\r\n`
  );
};

const clients: Section = (node) =>
  "# Clients\r\n" +
  "maxclients:10240\r\n" +
  `connected_clients:${node.connectedClients}\r\n` +
  "monitor_clients:0\r\n" +
  "blocked_clients:0\r\n";

const memory: Section = () =>
  "# Memory\r\n" +
  "used_memory_rss:41943040\r\n" +
  "used_memory_rss_human:40.00M\r\n" +
  "used_memory_lua:32768\r\n" +
  "used_memory_lua_human:32.00K\r\n" +
  "used_memory_startup:41943040\r\n";

const persistence: Section = (node) =>
  "# Persistence\r\n" +
  `loading:${node.isLoading() ? 1 : 0}\r\n` +
  "bgsave_in_progress:0\r\n" +
  `last_bgsave_time:${Math.floor(node.startedAt / 1000)}\r\n` +
  "last_bgsave_status:ok\r\n" +
  "last_bgsave_time_sec:-1\r\n";

const stats: Section = (node) => {
  const s = node.stats;
  return (
    "# Stats\r\n" +
    `total_connections_received:${s.connectionsReceived}\r\n` +
    `total_commands_processed:${s.commandsProcessed}\r\n` +
    `instantaneous_ops_per_sec:${opsPerSecond(s)}\r\n` +
    `total_net_input_bytes:${s.inBytes}\r\n` +
    `total_net_output_bytes:${s.outBytes}\r\n` +
    "instantaneous_input_kbps:0\r\n" +
    "instantaneous_output_kbps:0\r\n" +
    `sync_full:${s.syncFull}\r\n` +
    "sync_partial_ok:0\r\n" +
    "sync_partial_err:0\r\n" +
    `keyspace_hits:${s.keyspaceHits}\r\n` +
    `keyspace_misses:${s.keyspaceMisses}\r\n` +
    "pubsub_channels:0\r\n" +
    "pubsub_patterns:0\r\n"
  );
};

const replication: Section = (node) => {
  const seq = node.store.sequence;
  let out = "# Replication\r\n";
  out += `role:${node.isSlave() ? "slave" : "master"}\r\n`;
  if (node.isSlave()) {
    const r = node.repl;
    const up = r.attachedTo !== null;
    const idle = up ? 0 : Math.floor((Date.now() - r.lastIoMs) / 1000);
    out +=
      `master_host:${r.masterHost}\r\n` +
      `master_port:${r.masterPort}\r\n` +
      `master_link_status:${up ? "up" : "down"}\r\n` +
      "master_sync_unrecoverable_error:no\r\n" +
      `master_sync_in_progress:${node.faults.fullSync ? 1 : 0}\r\n` +
      `master_last_io_seconds_ago:${idle}\r\n` +
      `slave_repl_offset:${seq}\r\n` +
      "slave_priority:100\r\n";
  }
  out += `connected_slaves:${node.replicas.length}\r\n`;
  node.replicas.forEach((r, i) => {
    const offset = r.store.sequence;
    out += `slave${i}:ip=${r.config.host},port=${r.config.port},offset=${offset},lag=${seq - offset}\r\n`;
  });
  out += `master_repl_offset:${seq}\r\n`;
  return out;
};

const cpu: Section = () => {
  const u = process.cpuUsage();
  // Kvrocks divides microseconds as integers, so only whole seconds show.
  return (
    "# CPU\r\n" +
    `used_cpu_sys:${Math.floor(u.system / 1e6)}\r\n` +
    `used_cpu_user:${Math.floor(u.user / 1e6)}\r\n`
  );
};

const commandStats: Section = (node) => {
  let out = "# Commandstats\r\n";
  for (const [name, calls] of [...node.stats.calls].sort(([a], [b]) => (a < b ? -1 : 1))) {
    out += `cmdstat_${name}:calls=${calls},usec=0,usec_per_call=0\r\n`;
  }
  return out;
};

const clusterSection: Section = (node) =>
  `# Cluster\r\ncluster_enabled:${node.config.clusterEnabled ? 1 : 0}\r\n`;

const keyspace: Section = (node) => {
  const store = node.store;
  const scan =
    store.lastScanTime === 0
      ? "# WARN: DBSIZE SCAN never performed yet\r\n"
      : `# Last DBSIZE SCAN time: ${ctime(store.lastScanTime)}\r\n`;
  return (
    "# Keyspace\r\n" +
    scan +
    `db0:keys=${store.cachedKeyCount.keys},expires=${store.cachedKeyCount.expires},avg_ttl=0,expired=0\r\n` +
    `sequence:${store.sequence}\r\n` +
    `used_db_size:${store.usedBytes()}\r\n` +
    "max_db_size:0\r\n" +
    "used_percent: 0%\r\n" +
    `disk_capacity:${DISK_CAPACITY}\r\n` +
    `used_disk_size:${USED_DISK}\r\n` +
    `used_disk_percent: ${cppDouble((USED_DISK * 100) / DISK_CAPACITY)}%\r\n`
  );
};

const ROCKSDB_CFS = [
  "default",
  "metadata",
  "zset_score",
  "pubsub",
  "propagate",
  "stream",
  "search",
];

// Real 2.10.1's lines and order; `estimate_keys[metadata]` is one per key (what the
// controller reads as the key count, since `db0:keys` stays 0 until a DBSIZE SCAN).
const rocksdb: Section = (node) => {
  let out = "# RocksDB\r\nblock_cache_usage:96\r\n";
  for (const cf of ROCKSDB_CFS) {
    const keys = cf === "metadata" ? node.store.estimatedKeys() : 0;
    out +=
      `block_cache_pinned_usage[${cf}]:${cf === "default" ? 96 : 0}\r\n` +
      `estimate_keys[${cf}]:${keys}\r\n` +
      `index_and_filter_cache_usage[${cf}]:0\r\n` +
      `level0_file_limit_slowdown[${cf}]:0\r\n` +
      `level0_file_limit_stop[${cf}]:0\r\n` +
      `pending_compaction_bytes_slowdown[${cf}]:0\r\n` +
      `pending_compaction_bytes_stop[${cf}]:0\r\n` +
      `level0_file_limit_stop_with_ongoing_compaction[${cf}]:0\r\n` +
      `level0_file_limit_slowdown_with_ongoing_compaction[${cf}]:0\r\n` +
      `memtable_count_limit_slowdown[${cf}]:0\r\n` +
      `memtable_count_limit_stop[${cf}]:0\r\n`;
  }
  for (const name of ROCKSDB_COUNTERS) out += `${name}:0\r\n`;
  return (
    out +
    "all_mem_tables:8402944\r\n" +
    "cur_mem_tables:8402944\r\n" +
    "snapshots:0\r\n" +
    "num_immutable_tables:0\r\n" +
    "num_running_flushes:0\r\n" +
    "memtable_flush_pending:0\r\n" +
    "compaction_pending:0\r\n" +
    "num_running_compactions:0\r\n" +
    "num_live_versions:7\r\n" +
    "num_super_version:7\r\n" +
    "num_background_errors:0\r\n" +
    "flush_count:0\r\n" +
    "compaction_count:0\r\n" +
    "put_per_sec:0\r\n" +
    "get_per_sec:0\r\n" +
    "seek_per_sec:0\r\n" +
    "next_per_sec:0\r\n" +
    "prev_per_sec:0\r\n" +
    "is_bgsaving:no\r\n" +
    "is_compacting:no\r\n"
  );
};

const ROCKSDB_COUNTERS = [
  "block_cache_data_hit",
  "block_cache_data_miss",
  "block_cache_filter_hit",
  "block_cache_filter_miss",
  "block_cache_hit",
  "block_cache_index_hit",
  "block_cache_index_miss",
  "block_cache_miss",
];

const SECTIONS: [name: string, build: Section, dbBacked: boolean][] = [
  ["server", server, false],
  ["clients", clients, false],
  ["memory", memory, false],
  ["persistence", persistence, false],
  ["stats", stats, false],
  ["replication", replication, true],
  ["cpu", cpu, false],
  ["commandstats", commandStats, false],
  ["cluster", clusterSection, false],
  ["keyspace", keyspace, true],
  ["rocksdb", rocksdb, true],
];

/** `section` is lower-cased; "all" is everything; an unknown name gives an empty text. */
export function infoText(node: KvrocksNode, section: string): string {
  const parts: string[] = [];
  for (const [name, build, dbBacked] of SECTIONS) {
    if (section !== "all" && section !== name) continue;
    if (dbBacked && node.isLoading()) continue;
    parts.push(build(node));
  }
  return parts.join("\r\n");
}

/** std::ostream's default formatting of a double (6 significant digits). */
function cppDouble(x: number): string {
  return String(Number(x.toPrecision(6)));
}

/** "%a %b %e %H:%M:%S %Y" in local time, as Kvrocks prints the last scan time. */
function ctime(unixSecs: number): string {
  const d = new Date(unixSecs * 1000);
  const day = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][d.getDay()];
  const mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][
    d.getMonth()
  ];
  const p2 = (n: number) => String(n).padStart(2, "0");
  const e = String(d.getDate()).padStart(2, " ");
  return `${day} ${mon} ${e} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}
