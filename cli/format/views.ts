// How each resource reads in a terminal. Pure functions from API data to text.
import { formatSlotRanges, mergeRanges, parseSlotRange } from "../../lib/slots/index.js";
import type {
  ClusterHealth,
  ClusterJson,
  ClusterNode,
  FailoverRecord,
  NodeHealth,
  PushResult,
  ScalePlan,
  ShardJson,
  Task,
} from "../types.js";
import { fields, formatDuration, formatTime, shortId, table, toMillis } from "./table.js";

export function namesView(names: readonly string[], kind: string): string {
  return names.length === 0 ? `No ${kind} found.` : names.join("\n");
}

const slotsOf = (shard: ShardJson) => shard.slot_ranges.join(",") || "-";

const roleOf = (node: ClusterNode) => (node.role === "master" ? "master" : "slave");

function migratingOf(shard: ShardJson): string {
  return shard.migrating_slot === null
    ? "-"
    : `${shard.migrating_slot} -> ${shard.target_shard_index}`;
}

function healthCell(h: NodeHealth | undefined): string {
  if (!h) return "-";
  if (!h.probed) return "unknown";
  if (!h.up) return `down (${h.failures} failed)`;
  if (h.unmanageable) return "up, unmanageable";
  return "up";
}

function versionCell(h: NodeHealth | undefined): string {
  if (!h || h.reported_version === null) return "-";
  return h.behind ? `${h.reported_version} (behind)` : String(h.reported_version);
}

/** The cluster as `showcluster` and `get cluster` print it; health columns when known. */
export function clusterView(cluster: ClusterJson, health?: ClusterHealth): string {
  const byId = new Map(health?.nodes.map((n) => [n.id, n]));
  const rows = cluster.shards.flatMap((shard, i) =>
    shard.nodes.map((node) => {
      const h = byId.get(node.id);
      const master = node.role === "master";
      return [
        i,
        shortId(node.id),
        node.addr,
        roleOf(node),
        master ? slotsOf(shard) : "",
        versionCell(h),
        healthCell(h),
        master ? migratingOf(shard) : "",
      ];
    }),
  );
  const head = [`cluster: ${cluster.name}`, `version: ${cluster.version}`];
  if (health) {
    head.push(`nodes down: ${health.nodes_down}`, `nodes behind: ${health.nodes_behind}`);
    if (health.safe_mode) head.push(`SAFE MODE: ${health.safe_mode_reason ?? "on"}`);
  }
  const headers = [
    "shard",
    "node id",
    "address",
    "role",
    "slots",
    "version",
    "health",
    "migrating",
  ];
  return `${head.join("   ")}\n\n${table(headers, rows)}`;
}

export function shardsView(shards: readonly ShardJson[]): string {
  if (shards.length === 0) return "No shards found.";
  const rows = shards.map((shard, i) => {
    const master = shard.nodes.find((n) => n.role === "master");
    return [
      i,
      master?.addr,
      master ? shortId(master.id) : "",
      shard.nodes.length,
      slotsOf(shard),
      migratingOf(shard),
    ];
  });
  return table(["shard", "master", "master id", "nodes", "slots", "migrating"], rows);
}

export function nodesView(nodes: readonly (ClusterNode & { shard?: number })[]): string {
  if (nodes.length === 0) return "No nodes found.";
  const withShard = nodes.some((n) => n.shard !== undefined);
  const withZone = nodes.some((n) => n.zone !== undefined);
  const rows = nodes.map((n) => [
    ...(withShard ? [n.shard] : []),
    n.id,
    n.addr,
    roleOf(n),
    ...(withZone ? [n.zone ?? "-"] : []),
    formatTime(n.created_at),
  ]);
  return table(
    [
      ...(withShard ? ["shard"] : []),
      "id",
      "address",
      "role",
      ...(withZone ? ["zone"] : []),
      "created",
    ],
    rows,
  );
}

export function healthView(health: ClusterHealth): string {
  const head = fields([
    ["version", health.version],
    ["safe mode", health.safe_mode ? `yes: ${health.safe_mode_reason ?? ""}` : "no"],
    ["nodes down", health.nodes_down],
    ["nodes behind", health.nodes_behind],
    ["nodes unmanageable", health.nodes_unmanageable],
  ]);
  const notes = [
    ...Object.entries(health.failover_blocked).map(([s, why]) => `shard ${s}: no failover: ${why}`),
    ...health.nodes
      .filter((n) => n.unmanageable)
      .map((n) => `node ${shortId(n.id)} (${n.addr}) answers with an error: ${n.unmanageable}`),
    ...Object.entries(health.ahead).map(
      ([id, v]) => `node ${shortId(id)} claims newer version ${v}`,
    ),
  ];
  const rows = health.nodes.map((n) => [
    n.shard,
    shortId(n.id),
    n.addr,
    n.role,
    healthCell(n),
    versionCell(n),
    n.role_seen,
    formatTime(n.last_ok),
    n.last_error,
  ]);
  const headers = [
    "shard",
    "node id",
    "address",
    "role",
    "health",
    "version",
    "seen as",
    "last ok",
    "last error",
  ];
  return [head, "", table(headers, rows), ...(notes.length ? ["", ...notes] : [])].join("\n");
}

export function failoversView(records: readonly FailoverRecord[]): string {
  if (records.length === 0) return "No failovers recorded.";
  const rows = records.map((r) => [
    formatTime(r.at),
    r.shard,
    `${r.old_master_addr} (${shortId(r.old_master_id)})`,
    r.outcome === "refused"
      ? "— (not failed over)"
      : `${r.new_master_addr} (${shortId(r.new_master_id)})`,
    r.voters ? `${r.reason} (voted: ${r.voters.join(", ")})` : r.reason,
    formatDuration(r.duration_ms),
    r.version,
  ]);
  return table(["time", "shard", "old master", "new master", "reason", "took", "version"], rows);
}

export function syncView(results: readonly PushResult[]): string {
  const rows = results.map((r) => [shortId(r.id), r.addr, r.ok ? "ok" : "failed", r.error]);
  const failed = results.filter((r) => !r.ok).length;
  const summary =
    failed === 0
      ? `topology pushed to all ${results.length} nodes`
      : `topology pushed to ${results.length - failed} of ${results.length} nodes; the probe will retry the others`;
  return `${table(["node id", "address", "result", "error"], rows)}\n\n${summary}`;
}

function progressOf(task: Task): string {
  if (task.slots_total <= 0) return "-";
  const pct = Math.floor((task.slots_done / task.slots_total) * 100);
  return `${task.slots_done}/${task.slots_total} (${pct}%)`;
}

const shardsOf = (t: Task) =>
  t.kind === "remove_shards"
    ? "remove shards"
    : t.kind === "replace_node" && t.replace
      ? `replace ${t.replace.old_addr} -> ${t.replace.new_addr} (shard ${t.source}, ${t.replace.step})`
      : `${t.source} -> ${t.target}`;

/** A task's ranges are its request cut into chunks: shown joined again. */
const joinedRanges = (t: Task) =>
  formatSlotRanges(mergeRanges(t.ranges.map((r) => parseSlotRange(r, "ranges")))).join(",");

export function tasksView(tasks: readonly Task[]): string {
  if (tasks.length === 0) return "No tasks found.";
  const rows = tasks.map((t) => [
    t.id,
    t.state,
    shardsOf(t),
    joinedRanges(t),
    progressOf(t),
    t.in_flight,
    formatTime(t.created_at),
    t.error,
  ]);
  return table(["id", "state", "shards", "ranges", "slots", "in flight", "created", "error"], rows);
}

export function taskView(task: Task): string {
  const started = toMillis(task.started_at);
  const finished = toMillis(task.finished_at);
  return fields([
    ["id", task.id],
    [
      "state",
      task.cancel_requested && task.state === "running" ? "running (cancel requested)" : task.state,
    ],
    ["kind", task.kind ?? "migrate"],
    ["shards", shardsOf(task)],
    ["ranges", joinedRanges(task)],
    ["in flight", task.in_flight],
    ["slots", progressOf(task)],
    // Moved range by range: how many of the chunks reached the target.
    [
      "chunks",
      task.done && task.ranges.length > 1
        ? `${task.done.length}/${task.ranges.length}${task.max_range_slots ? ` (at most ${task.max_range_slots} slots each)` : ""}`
        : null,
    ],
    [
      "not converging",
      task.not_converging
        ? `range ${task.not_converging.range}: ${task.not_converging.range_writes_per_s} writes/s into it, copied at ${task.not_converging.copy_keys_per_s} keys/s`
        : null,
    ],
    ["created", formatTime(task.created_at)],
    ["started", formatTime(task.started_at)],
    ["finished", formatTime(task.finished_at)],
    ["took", started !== null && finished !== null ? formatDuration(finished - started) : null],
    ...(task.replace?.waiting ? [["waiting for", task.replace.waiting] as [string, string]] : []),
    ["error", task.error ?? task.last_error],
  ]);
}

/** A cluster layout before it exists: mkcl and addshard without -d. */
export interface PlannedShard {
  index: number;
  nodes: { addr: string; role: "master" | "slave" }[];
  slot_ranges: string[];
}

export function planView(shards: readonly PlannedShard[]): string {
  const rows = shards.flatMap((s) =>
    s.nodes.map((n, j) => [s.index, n.role, n.addr, j === 0 ? s.slot_ranges.join(",") || "-" : ""]),
  );
  return table(["shard", "role", "address", "slots"], rows);
}

export function scalePlanView(plan: ScalePlan): string {
  const head = fields([
    ["shards to add", plan.add_shards],
    ["shards to remove", plan.remove_shards.join(",") || "none"],
  ]);
  const placed = (plan.placement ?? []).flatMap((p) =>
    p.nodes.map((n) => [p.shard, n.role, n.addr, n.zone ?? "-"]),
  );
  const placement = placed.some((r) => r[3] !== "-")
    ? `\n\n${table(["new shard", "role", "address", "zone"], placed)}`
    : "";
  if (plan.moves.length === 0) return `${head}${placement}\n\nno slots to move`;
  const rows = plan.moves.map((m) => [m.source, m.target, m.slots, m.ranges.join(",")]);
  return `${head}${placement}\n\n${table(["from shard", "to shard", "slots", "ranges"], rows)}`;
}
