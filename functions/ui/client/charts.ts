// Live node statistics on the cluster page, drawn by hand in SVG: each node's ops/s, memory and
// replication lag over the last minutes (history kept in this page only, from polling the
// stats route), keys and memory per shard as bars, and the figures as a table.
import { $, bytes, type Child, h, muted, svg, table, update } from "./dom.js";
import { shardColor } from "./slots.js";
import { type ClusterJson, isFailed, type NodeStats, type Soft } from "./types.js";

/** How far back the line charts go. */
export const WINDOW_MS = 5 * 60 * 1000;

interface Point {
  t: number;
  ops: number | null;
  memory: number | null;
  lag: number | null;
}

interface Series {
  id: string;
  addr: string;
  shard: number;
  role: string;
  points: Point[];
}

const history = new Map<string, Series>();

/** Adds this poll's figures and forgets nodes that left the cluster and points past the window. */
function record(nodes: readonly NodeStats[], now: number): Series[] {
  const present = new Set(nodes.map((n) => n.id));
  for (const id of history.keys()) if (!present.has(id)) history.delete(id);
  for (const n of nodes) {
    const series = history.get(n.id) ?? {
      id: n.id,
      addr: n.addr,
      shard: n.shard,
      role: n.role,
      points: [],
    };
    Object.assign(series, { addr: n.addr, shard: n.shard, role: n.role });
    series.points.push({
      t: now,
      ops: n.ops_per_sec,
      memory: n.used_memory_bytes,
      lag: n.replication_lag,
    });
    while (series.points.length > 0 && (series.points[0]?.t ?? now) < now - WINDOW_MS) {
      series.points.shift();
    }
    history.set(n.id, series);
  }
  return [...history.values()].sort((a, b) => a.shard - b.shard || a.addr.localeCompare(b.addr));
}

const W = 560;
const H = 150;
const PAD = { left: 62, right: 8, top: 8, bottom: 22 };

/** A round upper bound for an axis: 1, 2, 5 × 10^n. */
function niceMax(value: number): number {
  if (value <= 0) return 1;
  const base = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * base) return step * base;
  return 10 * base;
}

const countLabel = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(0)}k` : String(n);

interface ChartSpec {
  key: "ops" | "memory" | "lag";
  title: string;
  format: (n: number) => string;
}

const CHARTS: ChartSpec[] = [
  { key: "ops", title: "Operations per second", format: countLabel },
  { key: "memory", title: "Memory (RSS)", format: (n) => bytes(n) },
  { key: "lag", title: "Replication lag (writes)", format: countLabel },
];

function lineChart(spec: ChartSpec, series: Series[], now: number): HTMLElement {
  const values = series.flatMap((s) => s.points.map((p) => p[spec.key] ?? 0));
  const max = niceMax(Math.max(0, ...values));
  const x = (t: number) =>
    PAD.left + ((t - (now - WINDOW_MS)) / WINDOW_MS) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
  const grid: SVGElement[] = [0, 0.5, 1].map((f) =>
    svg(
      "g",
      {},
      svg("line", {
        class: "grid",
        x1: PAD.left,
        x2: W - PAD.right,
        y1: y(max * f),
        y2: y(max * f),
      }),
      svg(
        "text",
        { class: "axis", x: PAD.left - 6, y: y(max * f) + 4, "text-anchor": "end" },
        spec.format(max * f),
      ),
    ),
  );
  const ticks = [5, 4, 3, 2, 1, 0].map((m) =>
    svg(
      "text",
      {
        class: "axis",
        x: x(now - m * 60_000),
        y: H - 6,
        "text-anchor": m === 0 ? "end" : "middle",
      },
      m === 0 ? "now" : `-${m} min`,
    ),
  );
  const lines = series.map((s) => {
    // A node that did not answer breaks its line instead of drawing a false zero.
    const segments: string[][] = [[]];
    for (const p of s.points) {
      const v = p[spec.key];
      if (v === null) segments.push([]);
      else segments[segments.length - 1]?.push(`${x(p.t).toFixed(1)},${y(v).toFixed(1)}`);
    }
    return svg(
      "g",
      { "data-node": s.addr },
      segments
        .filter((points) => points.length > 0)
        .map((points) =>
          points.length === 1
            ? svg("circle", {
                cx: points[0]?.split(",")[0],
                cy: points[0]?.split(",")[1],
                r: 2.5,
                fill: shardColor(s.shard),
              })
            : svg("polyline", {
                points: points.join(" "),
                fill: "none",
                stroke: shardColor(s.shard),
                "stroke-width": s.role === "master" ? 2 : 1.5,
                "stroke-dasharray": s.role === "master" ? null : "5 3",
              }),
        ),
    );
  });
  const latest = series
    .map((s) => {
      const v = s.points[s.points.length - 1]?.[spec.key];
      return `${s.addr} ${v === null || v === undefined ? "no answer" : spec.format(v)}`;
    })
    .join(", ");
  return h(
    "figure",
    { class: "chart", "data-chart": spec.key },
    h("figcaption", null, spec.title),
    svg(
      "svg",
      {
        viewBox: `0 0 ${W} ${H}`,
        role: "img",
        tabindex: 0,
        "data-key": `chart-${spec.key}`,
        "aria-label": `${spec.title} over the last ${WINDOW_MS / 60_000} minutes; now: ${latest || "no nodes"}`,
      },
      grid,
      ticks,
      lines,
    ),
  );
}

interface Bar {
  label: string;
  value: number;
  shard: number;
}

function barChart(
  title: string,
  key: string,
  bars: Bar[],
  format: (n: number) => string,
): HTMLElement {
  const rowH = 22;
  const labelW = 70;
  const valueW = 90;
  const height = Math.max(rowH, bars.length * rowH) + 4;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const span = W - labelW - valueW;
  return h(
    "figure",
    { class: "chart", "data-chart": key },
    h("figcaption", null, title),
    svg(
      "svg",
      {
        viewBox: `0 0 ${W} ${height}`,
        role: "img",
        tabindex: 0,
        "data-key": `chart-${key}`,
        "aria-label": `${title}: ${bars.map((b) => `${b.label} ${format(b.value)}`).join(", ") || "no data"}`,
      },
      bars.map((b, i) =>
        svg(
          "g",
          { "data-bar": b.label },
          svg("text", { class: "axis", x: 0, y: i * rowH + 15 }, b.label),
          svg("rect", {
            x: labelW,
            y: i * rowH + 3,
            width: Math.max(1, (b.value / max) * span).toFixed(1),
            height: rowH - 6,
            rx: 2,
            fill: shardColor(b.shard),
          }),
          svg(
            "text",
            { class: "axis", x: labelW + (b.value / max) * span + 6, y: i * rowH + 15 },
            format(b.value),
          ),
        ),
      ),
    ),
  );
}

function legend(series: Series[]): HTMLElement {
  return h(
    "ul",
    { class: "legend chart-legend" },
    series.map((s) =>
      h(
        "li",
        null,
        h("span", {
          class: `swatch${s.role === "master" ? "" : " replica"}`,
          style: { background: shardColor(s.shard) },
        }),
        `${s.addr} · shard ${s.shard} ${s.role}`,
      ),
    ),
  );
}

function figuresTable(nodes: readonly NodeStats[]): HTMLElement {
  const n = (v: number | null) => (v === null ? "—" : String(v));
  return table(
    [
      { label: "Address" },
      { label: "Shard", num: true },
      { label: "Role" },
      { label: "Up" },
      { label: "Ops/s", num: true },
      { label: "Keys", num: true },
      { label: "Memory", num: true },
      { label: "Disk", num: true },
      { label: "Clients", num: true },
      { label: "Lag", num: true },
      { label: "Version" },
    ],
    nodes.map((s): Child[] => [
      s.addr,
      String(s.shard),
      s.role,
      s.up ? "up" : h("span", { class: "error", title: s.error }, `down: ${s.error ?? ""}`),
      n(s.ops_per_sec),
      n(s.keys),
      bytes(s.used_memory_bytes),
      bytes(s.used_disk_bytes),
      n(s.connected_clients),
      n(s.replication_lag),
      s.version ?? "—",
    ]),
  );
}

export function renderStats(
  cluster: ClusterJson,
  stats: Soft<{ nodes: NodeStats[] }>,
  now = Date.now(),
): void {
  const el = $("#stats");
  if (!el) return;
  if (isFailed(stats)) {
    update(el, ["failed", stats.failed], () => muted(`Statistics unavailable: ${stats.failed}`));
    return;
  }
  const series = record(stats.nodes, now);
  const keys: Bar[] = cluster.shards.map((_, i) => {
    // A shard's keys are its master's (replicas hold copies).
    const master = stats.nodes.find((n) => n.shard === i && n.role === "master");
    return { label: `shard ${i}`, value: master?.keys ?? 0, shard: i };
  });
  const memory: Bar[] = cluster.shards.map((_, i) => ({
    label: `shard ${i}`,
    value: stats.nodes
      .filter((n) => n.shard === i)
      .reduce((sum, n) => sum + (n.used_memory_bytes ?? 0), 0),
    shard: i,
  }));
  // Redrawn on every poll: the time axis moves.
  update(el, [now, stats.nodes], () => [
    h(
      "div",
      { class: "charts" },
      CHARTS.map((spec) => lineChart(spec, series, now)),
    ),
    legend(series),
    h(
      "div",
      { class: "charts" },
      barChart("Keys per shard (master)", "keys", keys, countLabel),
      barChart("Memory per shard (all nodes)", "shard-memory", memory, (v) => bytes(v)),
    ),
    h("div", { class: "table-wrap", id: "stats-table" }, figuresTable(stats.nodes)),
  ]);
}
