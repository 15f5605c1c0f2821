// A cluster's page: overview, live node statistics, slot map, shards with their nodes,
// migration tasks, failovers, and every action on the cluster.
import { api, clusterApi, nodeUi, path, soft } from "../api.js";
import { renderStats } from "../charts.js";
import { confirmOrCancel, field, input, onSubmit, rowButton } from "../dialogs.js";
import {
  $,
  $$,
  badge,
  type Child,
  h,
  mono,
  muted,
  setOptions,
  setText,
  shortList,
  splitList,
  table,
  update,
} from "../dom.js";
import { renderFailovers } from "../failovers.js";
import { healthBadges, healthById, nodeState } from "../health.js";
import { ctx } from "../page.js";
import { createSlotMap, type SlotMap } from "../slotmap.js";
import { SLOT_COUNT, shardColor, slotCount } from "../slots.js";
import {
  type ClusterHealth,
  type ClusterJson,
  type FailoverRecord,
  isFailed,
  type NodeHealth,
  type NodeStats,
  type PushResult,
  type ScalePlan,
  type ShardJson,
  type Soft,
  type TaskJson,
} from "../types.js";

interface Current {
  cluster: ClusterJson;
}

let current: Current | null = null;
let slotMap: SlotMap | null = null;

export async function loadCluster(): Promise<void> {
  const base = clusterApi(ctx.ns, ctx.cluster);
  const [c, health, tasks, failovers, stats] = await Promise.all([
    api<{ cluster: ClusterJson }>("GET", base),
    soft(api<ClusterHealth>("GET", `${base}/health`)),
    soft(api<{ tasks: TaskJson[] }>("GET", `${base}/tasks`)),
    soft(api<{ failovers: FailoverRecord[] }>("GET", `${base}/failovers`)),
    soft(api<{ nodes: NodeStats[] }>("GET", `${base}/stats`)),
  ]);
  const cluster = c.cluster;
  current = { cluster };
  renderSummary(cluster, health, tasks);
  renderStats(cluster, stats);
  const canvas = $<HTMLCanvasElement>("#slotmap");
  if (canvas) {
    slotMap ??= createSlotMap(canvas);
    slotMap.set(cluster);
  }
  renderShards(cluster, health);
  renderTasks(tasks);
  renderFailovers($("#failovers"), failovers, () => true);
  updateSelects(cluster);
}

function renderSummary(
  cluster: ClusterJson,
  health: Soft<ClusterHealth>,
  tasks: Soft<{ tasks: TaskJson[] }>,
): void {
  const nodes = cluster.shards.reduce((n, s) => n + s.nodes.length, 0);
  const assigned = cluster.shards.reduce((n, s) => n + (slotCount(s.slot_ranges) ?? 0), 0);
  const active = isFailed(tasks)
    ? null
    : tasks.tasks.filter((t) => t.state === "queued" || t.state === "running").length;
  const notes: string[] = [];
  if (isFailed(health)) notes.push(`Health unavailable: ${health.failed}`);
  else {
    if (health.safe_mode) {
      notes.push(
        `Safe mode: ${health.safe_mode_reason ?? "too many nodes failing at once; no failover"}`,
      );
    }
    for (const [shard, why] of Object.entries(health.failover_blocked ?? {})) {
      notes.push(`Shard ${shard}: no failover: ${why}`);
    }
    for (const [id, version] of Object.entries(health.ahead ?? {})) {
      notes.push(`Node ${id.slice(0, 8)} reports version ${version}, newer than the stored one`);
    }
  }
  const badges = healthBadges(health, cluster).map((b) => [b.className, b.textContent ?? ""]);
  const stat = (label: string, value: Child) =>
    h("div", null, h("dt", null, label), h("dd", null, value));
  update(
    $("#summary"),
    [cluster.version, cluster.shards.length, nodes, assigned, active, badges, notes],
    () => [
      h(
        "dl",
        { class: "stats" },
        stat("Version", String(cluster.version)),
        stat("Shards", String(cluster.shards.length)),
        stat("Nodes", String(nodes)),
        stat("Slots assigned", `${assigned} / ${SLOT_COUNT}`),
        stat("Active tasks", active === null ? "—" : String(active)),
        stat(
          "Health",
          badges.map(([cls, label]) => [h("span", { class: cls ?? "" }, label), " "]),
        ),
      ),
      notes.length
        ? h(
            "ul",
            { class: "notes" },
            notes.map((n) => h("li", { class: "error" }, n)),
          )
        : null,
    ],
  );
}

interface ShardView {
  i: number;
  ranges: string[];
  slots: number;
  migrating: string | null;
  target: number;
  nodes: { id: string; addr: string; role: string; health: unknown[] | null }[];
}

function renderShards(cluster: ClusterJson, health: Soft<ClusterHealth>): void {
  const byId = healthById(health);
  const view: ShardView[] = cluster.shards.map((s, i) => ({
    i,
    ranges: s.slot_ranges,
    slots: slotCount(s.slot_ranges) ?? 0,
    migrating: s.migrating_slot,
    target: s.target_shard_index,
    nodes: s.nodes.map((n) => {
      const x = byId.get(n.id);
      return {
        id: n.id,
        addr: n.addr,
        role: n.role,
        health: x
          ? [x.up, x.probed, x.failures, x.reported_version, x.behind, x.role_seen, x.last_error]
          : null,
      };
    }),
  }));
  update($("#shards"), view, () =>
    view.length === 0 ? muted("No shards.") : view.map((s) => shardCard(s, byId)),
  );
}

function shardCard(s: ShardView, byId: Map<string, NodeHealth>): HTMLElement {
  const base = clusterApi(ctx.ns, ctx.cluster) + path("shards", s.i);
  const replicas = s.nodes.filter((n) => n.role === "slave");
  const columns = [
    { label: "Address" },
    { label: "Role" },
    { label: "State" },
    { label: "Failures", num: true },
    { label: "Reported version", num: true },
    { label: "Role seen" },
    { label: "Last error" },
    { label: "Actions", mutating: true },
  ];
  const rows: Child[][] = s.nodes.map((n) => {
    const x = byId.get(n.id);
    const seen = x?.role_seen ?? "—";
    return [
      h(
        "a",
        { href: nodeUi(ctx.ns, ctx.cluster, n.id), "data-key": `node-${n.id}`, title: n.id },
        n.addr,
      ),
      n.role,
      nodeState(x),
      x ? String(x.failures) : "—",
      x && x.reported_version !== null
        ? [String(x.reported_version), x.behind ? [" ", badge("behind", "warn")] : null]
        : "—",
      x?.role_seen && x.role_seen !== n.role ? badge(seen, "warn") : seen,
      x?.last_error ? h("span", { class: "muted" }, x.last_error) : "",
      n.role === "slave"
        ? [
            rowButton("Promote", `promote-${n.id}`, "shards", `promote ${n.addr}`, async () => {
              await confirmOrCancel(
                `Fail shard ${s.i} over to ${n.addr}?`,
                `The current master becomes a replica; the API refuses if ${n.addr} cannot be promoted (down, syncing, no data).`,
                "Fail over",
              );
              const r = await api<{ new_master_id: string }>("POST", `${base}/failover`, {
                preferred_node_id: n.id,
              });
              return `New master of shard ${s.i}: ${r.new_master_id}`;
            }),
            rowButton(
              "Remove",
              `remove-${n.id}`,
              "shards",
              `remove ${n.addr}`,
              async () => {
                await confirmOrCancel(
                  `Remove ${n.addr} from shard ${s.i}?`,
                  "The node leaves the topology; the process keeps running.",
                  "Remove node",
                );
                await api("DELETE", base + path("nodes", n.id));
              },
              "small danger",
            ),
          ]
        : "",
    ];
  });
  return h(
    "article",
    { class: "shard", id: `shard-${s.i}`, "aria-labelledby": `shard-${s.i}-h` },
    h(
      "header",
      null,
      h("span", { class: "swatch", style: { background: shardColor(s.i) } }),
      h("h3", { id: `shard-${s.i}-h` }, `Shard ${s.i}`),
      h(
        "span",
        { class: "muted" },
        `${s.slots} slots${s.ranges.length ? `: ${shortList(s.ranges, 6)}` : ""}`,
      ),
      s.migrating ? badge(`migrating ${s.migrating} to shard ${s.target}`, "warn") : null,
      h(
        "div",
        { class: "actions", "data-mutating": true },
        replicas.length > 0
          ? rowButton(
              "Fail over",
              `failover-${s.i}`,
              "shards",
              `fail over shard ${s.i}`,
              async () => {
                await confirmOrCancel(
                  `Fail over shard ${s.i}?`,
                  "The replica with the most data becomes master; the current master becomes a replica.",
                  "Fail over",
                );
                const r = await api<{ new_master_id: string }>("POST", `${base}/failover`, {});
                return `New master of shard ${s.i}: ${r.new_master_id}`;
              },
            )
          : null,
        s.slots === 0 && !s.migrating
          ? rowButton(
              "Delete shard",
              `delete-shard-${s.i}`,
              "shards",
              `delete shard ${s.i}`,
              async () => {
                await confirmOrCancel(
                  `Delete shard ${s.i}?`,
                  "It owns no slots; its nodes leave the topology.",
                  "Delete shard",
                );
                await api("DELETE", base);
              },
              "small danger",
            )
          : null,
      ),
    ),
    h("div", { class: "table-wrap" }, table(columns, rows)),
  );
}

function renderTasks(tasks: Soft<{ tasks: TaskJson[] }>): void {
  const el = $("#tasks");
  if (isFailed(tasks)) {
    update(el, ["failed", tasks.failed], () => muted(`Tasks unavailable: ${tasks.failed}`));
    return;
  }
  const list = tasks.tasks.slice().reverse().slice(0, 30);
  const view = list.map((t) => [
    t.id,
    t.kind,
    t.state,
    t.source,
    t.target,
    t.ranges,
    t.in_flight,
    t.slots_done,
    t.slots_total,
    t.error,
    t.slot_only,
    t.cancel_requested,
  ]);
  update(el, view, () =>
    list.length === 0
      ? muted("No migration tasks.")
      : table(
          [
            { label: "Task" },
            { label: "Move" },
            { label: "Ranges" },
            { label: "State" },
            { label: "Progress" },
            { label: "Error" },
            { label: "Actions", mutating: true },
          ],
          list.map(taskRow),
        ),
  );
}

const TASK_BADGE: Record<TaskJson["state"], string> = {
  queued: "muted",
  running: "info",
  succeeded: "ok",
  failed: "bad",
  cancelled: "muted",
};

function taskRow(t: TaskJson): Child[] {
  const active = t.state === "queued" || t.state === "running";
  const total = t.slots_total || 0;
  const done = t.slots_done || 0;
  const pct = total > 0 ? Math.floor((done * 100) / total) : t.state === "succeeded" ? 100 : 0;
  const move =
    t.kind === "remove_shards"
      ? "remove drained shards"
      : `shard ${t.source} → shard ${t.target}${t.slot_only ? " (slot only)" : ""}`;
  return [
    mono(t.id.length > 18 ? `${t.id.slice(0, 18)}…` : t.id, t.id),
    move,
    t.ranges.length ? shortList(t.ranges, 4) : "—",
    [
      badge(t.state, TASK_BADGE[t.state] ?? "muted"),
      t.in_flight ? h("div", { class: "muted" }, `moving ${t.in_flight}`) : null,
      t.cancel_requested && active ? h("div", { class: "muted" }, "cancel requested") : null,
    ],
    t.kind === "remove_shards"
      ? "—"
      : h(
          "span",
          { "data-task-progress": t.id },
          h("progress", {
            max: String(Math.max(total, 1)),
            value: String(total > 0 ? done : pct === 100 ? 1 : 0),
            "aria-label": `progress of task ${t.id}`,
          }),
          h("span", { class: "progress-text" }, `${done} / ${total} slots · ${pct}%`),
        ),
    t.error ? h("span", { class: "error" }, t.error) : "",
    active && !t.cancel_requested
      ? rowButton(
          "Cancel",
          `cancel-${t.id}`,
          "tasks",
          `cancel ${t.id}`,
          async () => {
            await confirmOrCancel(
              `Cancel task ${t.id}?`,
              "The range in flight finishes or fails; the ranges not started stay where they are.",
              "Cancel task",
            );
            await api("DELETE", clusterApi(ctx.ns, ctx.cluster) + path("tasks", t.id));
          },
          "small danger",
        )
      : "",
  ];
}

function updateSelects(cluster: ClusterJson): void {
  const shards = cluster.shards.map((s: ShardJson, i): [string, string] => {
    const master = s.nodes.find((n) => n.role === "master");
    return [
      String(i),
      `shard ${i} · ${slotCount(s.slot_ranges) ?? 0} slots · ${master ? master.addr : "no master"}`,
    ];
  });
  for (const select of $$<HTMLSelectElement>('select[data-options="shards"]')) {
    setOptions(select, shards);
  }
  updateReplicas();
}

function updateReplicas(): void {
  const form = $<HTMLFormElement>('form[data-action="failover"]');
  if (!form || !current) return;
  const shard = current.cluster.shards[Number(input(form, "shard").value)];
  const options: [string, string][] = [["", "best replica (most data)"]];
  if (shard) {
    for (const n of shard.nodes) {
      if (n.role === "slave") options.push([n.id, `${n.addr} (${n.id.slice(0, 8)})`]);
    }
  }
  setOptions(form.elements.namedItem("preferred") as HTMLSelectElement | null, options);
}

function planView(plan: ScalePlan): HTMLElement[] {
  const lines: HTMLElement[] = [];
  if (plan.add_shards) lines.push(h("p", null, `Adds ${plan.add_shards} shard(s).`));
  if (plan.remove_shards?.length) {
    lines.push(h("p", null, `Removes shard(s) ${plan.remove_shards.join(", ")} once drained.`));
  }
  if (plan.moves.length === 0) lines.push(h("p", null, "No slots need to move."));
  else {
    const total = plan.moves.reduce((n, m) => n + m.slots, 0);
    lines.push(h("p", null, `${plan.moves.length} move(s), ${total} slots:`));
    lines.push(
      h(
        "div",
        { class: "table-wrap", id: "plan-moves" },
        table(
          [{ label: "From" }, { label: "To" }, { label: "Slots", num: true }, { label: "Ranges" }],
          plan.moves.map((m) => [
            `shard ${m.source}`,
            `shard ${m.target}`,
            String(m.slots),
            shortList(m.ranges, 6),
          ]),
        ),
      ),
    );
  }
  return lines;
}

export function registerClusterActions(): void {
  const failoverShard = $<HTMLSelectElement>('form[data-action="failover"] select[name="shard"]');
  failoverShard?.addEventListener("change", updateReplicas);

  onSubmit("migrate", async (form, data) => {
    const ranges = splitList(data.get("ranges"));
    const target = field(data, "target");
    const slotOnly = data.get("slot_only") !== null;
    const n = slotCount(ranges);
    await confirmOrCancel(
      `Migrate ${n === null ? "" : `${n} `}slots to shard ${target}?`,
      [
        `Ranges: ${ranges.join(", ") || "none"}`,
        slotOnly
          ? "Slot only: the topology changes at once and no data is copied; keys in these slots stay on the old shard."
          : `With data: the source master copies the keys to shard ${target}, one range at a time; progress shows below.`,
      ],
      slotOnly ? "Move slots" : "Start migration",
    );
    const answer = await api<{ task?: TaskJson; cluster?: ClusterJson }>(
      "POST",
      `${clusterApi(ctx.ns, ctx.cluster)}/migrate`,
      { target: target === "" ? null : Number(target), slots: ranges, slot_only: slotOnly },
    );
    input(form, "ranges").value = "";
    if (answer.task) {
      return `Started task ${answer.task.id} (${answer.task.slots_total} slots).`;
    }
    return `Moved; cluster version is now ${answer.cluster?.version}.`;
  });

  onSubmit("failover", async (_form, data) => {
    const shard = field(data, "shard");
    const preferred = field(data, "preferred");
    const label = preferred ? `to ${preferred.slice(0, 8)}` : "to its best replica";
    await confirmOrCancel(
      `Fail over shard ${shard} ${label}?`,
      "The current master becomes a replica. The API refuses a preferred node that cannot be promoted.",
      "Fail over",
    );
    const answer = await api<{ new_master_id: string }>(
      "POST",
      `${clusterApi(ctx.ns, ctx.cluster) + path("shards", shard)}/failover`,
      preferred ? { preferred_node_id: preferred } : {},
    );
    return `New master of shard ${shard}: ${answer.new_master_id}`;
  });

  onSubmit("scale", async (form, data) => {
    const password = String(data.get("password") ?? "");
    const request = {
      add_shards: String(data.get("add") ?? "")
        .split("\n")
        .map((line) => splitList(line))
        .filter((nodes) => nodes.length)
        .map((nodes) => ({ nodes, password })),
      remove_shards: splitList(data.get("remove")).map((x) => (/^\d+$/.test(x) ? Number(x) : x)),
      slot_only: data.get("slot_only") !== null,
    };
    const base = `${clusterApi(ctx.ns, ctx.cluster)}/scale`;
    const dry = await api<{ plan: ScalePlan }>("POST", base, { ...request, dry_run: true });
    await confirmOrCancel("Apply this plan?", planView(dry.plan), "Apply plan");
    const answer = await api<{ tasks?: TaskJson[]; cluster?: ClusterJson }>("POST", base, {
      ...request,
      dry_run: false,
    });
    form.reset();
    if (answer.tasks?.length) {
      return `Queued ${answer.tasks.length} task(s); progress shows under Migration tasks.`;
    }
    if (answer.cluster) return `Applied; cluster version is now ${answer.cluster.version}.`;
    return "Nothing to do.";
  });

  onSubmit("add-shard", async (form, data) => {
    const answer = await api<{ shard: ShardJson }>(
      "POST",
      `${clusterApi(ctx.ns, ctx.cluster)}/shards`,
      { nodes: splitList(data.get("nodes")), password: String(data.get("password") ?? "") },
    );
    form.reset();
    const master = answer.shard.nodes.find((n) => n.role === "master");
    return `Added a shard with ${answer.shard.nodes.length} node(s)${master ? `, master ${master.addr}` : ""}.`;
  });

  onSubmit("add-node", async (form, data) => {
    const shard = field(data, "shard");
    const id = await api<string>(
      "POST",
      `${clusterApi(ctx.ns, ctx.cluster) + path("shards", shard)}/nodes`,
      {
        addr: field(data, "addr"),
        role: field(data, "role") || "slave",
        password: String(data.get("password") ?? ""),
      },
    );
    input(form, "addr").value = "";
    return `Added node ${id} to shard ${shard}.`;
  });

  onSubmit("sync", async (form, data) => {
    const answer = await api<{ results: PushResult[] }>(
      "POST",
      `${clusterApi(ctx.ns, ctx.cluster)}/sync`,
      { force: data.get("force") !== null },
    );
    const failed = answer.results.filter((r) => !r.ok);
    // Nodes that missed the push are errors of this action; the probe repairs them later.
    setText(
      $("[data-error]", form),
      failed.map((r) => `${r.addr}: ${r.error ?? "failed"}`).join("\n"),
    );
    return `Pushed to ${answer.results.length - failed.length} of ${answer.results.length} nodes.`;
  });
}
