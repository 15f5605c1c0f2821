// `get stats` and `top`: each node's live figures as a table.
import type { NodeStats } from "../types.js";
import { shortId, table } from "./table.js";

/** 1536 → "1.5K", 33013760 → "31.5M": bytes and counts in a narrow column. */
export function humanBytes(n: number | null): string | null {
  if (n === null) return null;
  const units = ["B", "K", "M", "G", "T", "P"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value}B` : `${value.toFixed(1)}${units[unit]}`;
}

export function humanUptime(seconds: number | null): string | null {
  if (seconds === null) return null;
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86400)}d${Math.floor((seconds % 86400) / 3600)}h`;
}

/** Busiest first; nodes that did not answer last. */
export function byOpsPerSec(nodes: readonly NodeStats[]): NodeStats[] {
  return [...nodes].sort((a, b) => (b.ops_per_sec ?? -1) - (a.ops_per_sec ?? -1));
}

export function statsView(nodes: readonly NodeStats[]): string {
  if (nodes.length === 0) return "No nodes found.";
  const headers = [
    "shard",
    "node id",
    "address",
    "role",
    "up",
    "ops/s",
    "keys",
    "memory",
    "disk",
    "clients",
    "lag",
    "version",
    "uptime",
  ];
  const rows = nodes.map((n) => [
    n.shard,
    shortId(n.id),
    n.addr,
    n.role,
    n.up ? "up" : "DOWN",
    n.ops_per_sec,
    n.keys,
    humanBytes(n.used_memory_bytes),
    humanBytes(n.used_disk_bytes),
    n.connected_clients,
    n.replication_lag,
    n.version,
    humanUptime(n.uptime_seconds),
  ]);
  const errors = nodes
    .filter((n) => n.error)
    .map((n) => `${n.addr}: ${n.error}`)
    .join("\n");
  return errors ? `${table(headers, rows)}\n\n${errors}` : table(headers, rows);
}
