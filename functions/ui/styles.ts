// The console's stylesheet, served as a static asset. Light and dark follow the system
// (`prefers-color-scheme`); nothing is fetched from elsewhere.
export const CONSOLE_CSS = `
:root {
  color-scheme: light dark;
  --bg: #f6f7f9;
  --fg: #1b1d22;
  --muted: #596070;
  --card: #ffffff;
  --line: #d6d9e0;
  --head: #eef0f4;
  --accent: #1f55c4;
  --accent-fg: #ffffff;
  --ok: #146c2e;
  --ok-bg: #d9f4e1;
  --bad: #a8200d;
  --bad-bg: #fde2dd;
  --warn: #7a5000;
  --warn-bg: #fdefc4;
  --focus: #1f55c4;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #14161b;
    --fg: #e5e7ed;
    --muted: #a3a9b7;
    --card: #1d2027;
    --line: #363a46;
    --head: #252932;
    --accent: #8fb0ff;
    --accent-fg: #0d1426;
    --ok: #7fe09b;
    --ok-bg: #153421;
    --bad: #ff9387;
    --bad-bg: #421a15;
    --warn: #f3c75a;
    --warn-bg: #3a2e0c;
    --focus: #8fb0ff;
  }
}
* { box-sizing: border-box; }
html { background: var(--bg); }
body {
  margin: 0;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  background: var(--bg);
  color: var(--fg);
}
a { color: var(--accent); }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.92em; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -9999px; top: 0; }
.skip:focus { left: 8px; top: 8px; z-index: 10; background: var(--card); padding: 6px 10px; }
header.top {
  display: flex; flex-wrap: wrap; gap: 8px 20px; align-items: center;
  padding: 10px 20px; background: var(--card); border-bottom: 1px solid var(--line);
}
.brand { font-weight: 700; text-decoration: none; color: var(--fg); }
.crumbs ol { list-style: none; display: flex; flex-wrap: wrap; gap: 4px; margin: 0; padding: 0; }
.crumbs li + li::before { content: "/"; color: var(--muted); margin-right: 4px; }
.who { margin-left: auto; display: flex; gap: 8px; align-items: center; }
main { padding: 16px 20px 40px; max-width: 1400px; margin: 0 auto; }
main:focus { outline: none; }
h1 { font-size: 1.5rem; margin: 4px 0 12px; }
h2 { font-size: 1.15rem; margin: 0 0 10px; }
h3 { font-size: 1rem; margin: 0; }
section, .card {
  background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 14px 16px; margin: 0 0 16px;
}
.grid { display: grid; gap: 16px; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); }
.grid > section { margin: 0; }
.muted { color: var(--muted); }
.nowrap { white-space: nowrap; }
.hint { color: var(--muted); font-size: 0.88em; margin: 4px 0 0; }
.banner {
  margin: 12px 20px 0; padding: 10px 14px; border-radius: 6px;
  background: var(--bad-bg); color: var(--bad); border: 1px solid var(--bad);
}
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { background: var(--head); font-weight: 600; font-size: 0.9em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge {
  display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 0.85em; font-weight: 600;
  border: 1px solid transparent; white-space: nowrap;
}
.badge.ok { background: var(--ok-bg); color: var(--ok); border-color: var(--ok); }
.badge.bad { background: var(--bad-bg); color: var(--bad); border-color: var(--bad); }
.badge.warn { background: var(--warn-bg); color: var(--warn); border-color: var(--warn); }
.badge.muted { background: var(--head); color: var(--muted); border-color: var(--line); }
.badge.info { background: var(--head); color: var(--accent); border-color: var(--accent); }
button {
  font: inherit; padding: 5px 12px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--line); background: var(--head); color: var(--fg);
}
button:hover { border-color: var(--accent); }
button:disabled { opacity: 0.6; cursor: progress; }
button.primary { background: var(--accent); color: var(--accent-fg); border-color: var(--accent); }
button.danger { background: var(--bad-bg); color: var(--bad); border-color: var(--bad); }
button.small { padding: 2px 8px; font-size: 0.88em; }
input, select, textarea {
  font: inherit; color: var(--fg); background: var(--bg);
  border: 1px solid var(--line); border-radius: 6px; padding: 5px 8px;
}
textarea { width: 100%; min-height: 4.5em; font-family: ui-monospace, Menlo, Consolas, monospace; }
form.action { display: flex; flex-direction: column; gap: 8px; }
form.action label { display: flex; flex-direction: column; gap: 3px; font-weight: 600; font-size: 0.92em; }
form.action label.check { flex-direction: row; align-items: center; gap: 6px; font-weight: 400; }
form.action .row { display: flex; gap: 8px; flex-wrap: wrap; align-items: end; }
form.action .row > label { flex: 1 1 140px; }
.error { color: var(--bad); font-weight: 600; white-space: pre-wrap; }
.error:empty, .ok-msg:empty { display: none; }
.ok-msg { color: var(--ok); }
.stats { display: flex; flex-wrap: wrap; gap: 10px 28px; margin: 0; }
.stats div { min-width: 90px; }
.stats dt { color: var(--muted); font-size: 0.85em; }
.stats dd { margin: 0; font-size: 1.2rem; font-weight: 600; }
.notes { margin: 10px 0 0; padding-left: 18px; }
.slotmap-wrap { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
#slotmap {
  width: min(100%, 640px); aspect-ratio: 1; image-rendering: pixelated;
  border: 1px solid var(--line); border-radius: 4px; background: var(--head); cursor: crosshair;
}
.slot-side { flex: 1 1 260px; min-width: 240px; }
#slot-readout { min-height: 3em; margin: 0 0 10px; font-variant-numeric: tabular-nums; }
.legend { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 6px; }
.legend li { display: flex; gap: 8px; align-items: baseline; }
.swatch {
  display: inline-block; width: 14px; height: 14px; border-radius: 3px; flex: none;
  border: 1px solid rgba(0, 0, 0, 0.35); vertical-align: -2px;
}
.swatch.migrating {
  background: repeating-linear-gradient(45deg, #ff00cc 0 3px, transparent 3px 6px);
}
.shards { display: grid; gap: 12px; }
.shard { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.shard header { display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: center; margin-bottom: 6px; }
.shard header .actions { margin-left: auto; display: flex; gap: 6px; }
.actions-cell { white-space: nowrap; }
.actions-cell button + button { margin-left: 4px; }
progress { width: 160px; height: 14px; vertical-align: middle; accent-color: var(--accent); }
.progress-text { margin-left: 6px; font-variant-numeric: tabular-nums; }
dialog {
  border: 1px solid var(--line); border-radius: 10px; background: var(--card); color: var(--fg);
  max-width: min(640px, 94vw); padding: 18px 20px;
}
dialog::backdrop { background: rgba(0, 0, 0, 0.45); }
dialog form { display: flex; flex-direction: column; gap: 10px; }
dialog label { display: flex; flex-direction: column; gap: 4px; font-weight: 600; }
.buttons { display: flex; gap: 8px; justify-content: flex-end; }
.kv { display: grid; grid-template-columns: max-content 1fr; gap: 6px 18px; margin: 0; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; overflow-wrap: anywhere; }
body:not([data-access="full"]) [data-mutating] { display: none !important; }
body[data-manage-namespaces="no"] [data-manages-namespaces] { display: none !important; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 12px 20px; }
.chart { margin: 0; }
.chart figcaption { font-weight: 600; margin-bottom: 4px; }
.chart svg { width: 100%; height: auto; display: block; background: var(--card); border: 1px solid var(--line); border-radius: 6px; }
.chart .grid { stroke: var(--line); stroke-width: 1; }
.chart .axis { fill: var(--muted); font-size: 11px; }
.chart-legend { flex-direction: row; flex-wrap: wrap; gap: 4px 16px; margin: 8px 0 12px; font-size: 0.9em; }
.chart-legend .swatch.replica { background-image: repeating-linear-gradient(90deg, transparent 0 4px, var(--card) 4px 6px); }
#stats-table { margin-top: 12px; }
`;
