// What `instantaneous_ops_per_sec` reports: the commands of the last second.
import type { NodeStats } from "./node.js";

const OPS_WINDOW_MS = 1000;

/** Counts a command for `instantaneous_ops_per_sec`, dropping what fell out of the window. */
export function countRecentCommand(stats: NodeStats, now = Date.now()): void {
  stats.recentCommands.push(now);
  if (stats.recentCommands.length > 256 && stats.recentCommands[0]! < now - OPS_WINDOW_MS) {
    stats.recentCommands = stats.recentCommands.filter((t) => t >= now - OPS_WINDOW_MS);
  }
}

/** Commands in the last second: Kvrocks samples every 100 ms and averages, about the same. */
export function opsPerSecond(stats: NodeStats, now = Date.now()): number {
  return stats.recentCommands.filter((t) => t >= now - OPS_WINDOW_MS).length;
}
