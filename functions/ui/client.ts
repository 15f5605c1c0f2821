// The console's browser script, served as a static module from memory (no bundler, no build
// at run time). Plain modern JavaScript kept in a string, so it ships inside the server code
// for Node and Lambda alike; test/ui checks that it parses and drives it in Chromium.
// It builds the DOM with createElement/textContent only (never innerHTML with data).
// Inside the string: no backticks and no dollar-brace, the template would eat them.
export const CONSOLE_JS = String.raw`
const API = "/api/v1";
const TOKEN_KEY = "kvrocks-controller.token";
const REFRESH_MS = 2000;
const SLOTS = 16384;
const COLS = 128;
const CELL = 5;
const PALETTE = [
  "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
  "#b07aa1", "#ff9da7", "#9c755f", "#17becf", "#bcbd22", "#8c564b",
];
const MIGRATING_COLOR = "#ff00cc";
const UNASSIGNED_COLOR = "#9aa0aa";

const body = document.body;
const page = body.dataset.page || "";
const ctx = {
  ns: body.dataset.ns || "",
  cluster: body.dataset.cluster || "",
  node: body.dataset.node || "",
};

// ---------------------------------------------------------------- DOM helpers

function $(selector, root) {
  return (root || document).querySelector(selector);
}
function $$(selector, root) {
  return Array.from((root || document).querySelectorAll(selector));
}
function setText(el, value) {
  if (el) el.textContent = value === null || value === undefined ? "" : String(value);
}
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "style") Object.assign(el.style, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}
function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}
function badge(label, kind) {
  return h("span", { class: "badge " + kind }, label);
}
function muted(label) {
  return h("p", { class: "muted" }, label);
}
function mono(value, title) {
  return h("span", { class: "mono", title: title }, value);
}

const signatures = new WeakMap();

/** Rebuilds a region only when what it shows changed, and keeps keyboard focus in it. */
function update(el, data, build) {
  if (!el) return;
  const signature = JSON.stringify(data);
  if (signatures.get(el) === signature) return;
  signatures.set(el, signature);
  const active = document.activeElement;
  const key = active && el.contains(active) ? active.getAttribute("data-key") : null;
  el.replaceChildren();
  append(el, [build()]);
  if (key) {
    const again = $$("[data-key]", el).find((x) => x.getAttribute("data-key") === key);
    if (again) again.focus();
  }
}

/** columns: [{label, num, mutating}]; rows: arrays of cells. */
function table(columns, rows) {
  const cls = (c) => [c.num ? "num" : "", c.mutating ? "actions-cell" : ""].join(" ").trim();
  return h(
    "table",
    null,
    h("thead", null, h("tr", null, columns.map((c) =>
      h("th", { scope: "col", class: cls(c), "data-mutating": !!c.mutating }, c.label)))),
    h("tbody", null, rows.map((cells) => h("tr", null, cells.map((cell, i) =>
      h("td", { class: cls(columns[i]), "data-mutating": !!columns[i].mutating }, cell))))),
  );
}

function showBanner(message) {
  const el = $("#banner");
  setText(el, message);
  el.hidden = false;
}
function hideBanner() {
  $("#banner").hidden = true;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function ago(ms) {
  if (!ms) return "never";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  return Math.round(s / 3600) + " h ago";
}
function when(ms) {
  return ms ? new Date(ms).toLocaleString() : "—";
}

// ---------------------------------------------------------------- slots

function parseRange(text) {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+))?\s*$/.exec(String(text));
  if (!m) return null;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  return a <= b && b < SLOTS ? [a, b] : null;
}
function countSlots(ranges) {
  let n = 0;
  for (const r of ranges || []) {
    const p = parseRange(r);
    if (!p) return null;
    n += p[1] - p[0] + 1;
  }
  return n;
}
function shardColor(i) {
  return i < PALETTE.length ? PALETTE[i] : "hsl(" + ((i * 137.508) % 360).toFixed(1) + " 62% 52%)";
}
function splitList(value) {
  return String(value || "").split(/[\s,;]+/).filter(Boolean);
}
function shortList(items, max) {
  return items.length <= max ? items.join(", ") : items.slice(0, max).join(", ") + " … (+" + (items.length - max) + ")";
}

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}
class Cancelled extends Error {}

function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}
function path(...parts) {
  return "/" + parts.map((p) => encodeURIComponent(String(p))).join("/");
}
const nsApi = (ns) => path("namespaces", ns);
const clusterApi = (ns, cl) => path("namespaces", ns, "clusters", cl);
const nsUi = (ns) => "/ui" + path("namespaces", ns);
const clusterUi = (ns, cl) => "/ui" + clusterApi(ns, cl);
const nodeUi = (ns, cl, id) => clusterUi(ns, cl) + path("nodes", id);

async function api(method, url, payload) {
  const headers = { accept: "application/json" };
  const t = token();
  if (t) headers.authorization = "Bearer " + t;
  const init = { method, headers, cache: "no-store" };
  if (payload !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(payload);
  }
  let res;
  try {
    res = await fetch(API + url, init);
  } catch (err) {
    throw new ApiError(0, "cannot reach the API: " + err.message);
  }
  if (res.status === 204) return null;
  let json = null;
  try {
    json = await res.json();
  } catch {
    json = null;
  }
  if (!res.ok) {
    const message = json && json.error && json.error.message ? json.error.message : "HTTP " + res.status;
    throw new ApiError(res.status, message);
  }
  return json ? json.data : null;
}

/** For secondary reads of a page: a failure is shown in place, a 401 asks for a token. */
function soft(promise) {
  return promise.catch((err) => {
    if (err.status === 401) throw err;
    return { failed: err.message };
  });
}

// ---------------------------------------------------------------- access

// What a token may do is found out from the API itself, without changing anything:
// GET /namespaces answers 401 when a token is needed and missing or wrong. Then
// POST /namespaces with an empty body: the bearer middleware runs before any route
// validates its body (functions/app.ts), so a read-only token gets 403 and a full token
// (or an open API) gets 400 for the missing name. Nothing is created either way.
async function probeAccess() {
  try {
    await api("GET", "/namespaces");
  } catch (err) {
    if (err.status === 401) return "none";
    throw err;
  }
  try {
    await api("POST", "/namespaces", {});
  } catch (err) {
    if (err.status === 400) return "full";
    if (err.status === 0 || err.status >= 500) throw err;
  }
  return "readonly";
}

function setAccess(value) {
  body.dataset.access = value;
  const el = $("#access");
  const hasToken = token() !== "";
  if (value === "full") {
    setText(el, hasToken ? "full access" : "open API: no tokens configured");
    el.className = "badge " + (hasToken ? "ok" : "warn");
  } else if (value === "readonly") {
    setText(el, "read-only token");
    el.className = "badge info";
  } else {
    setText(el, "no token");
    el.className = "badge muted";
  }
  $("#signout").hidden = !hasToken;
}

function askToken(message) {
  const dialog = $("#token-dialog");
  const form = $("#token-form");
  setText($("#token-message"), message);
  form.reset();
  return new Promise((resolve) => {
    const onSubmit = () => {
      const value = form.elements.namedItem("token").value.trim();
      if (!value) return;
      form.removeEventListener("submit", onSubmit);
      resolve(value);
    };
    form.addEventListener("submit", onSubmit);
    if (!dialog.open) dialog.showModal();
  });
}

let authenticating = null;
function authenticate() {
  if (!authenticating) {
    authenticating = runAuthentication().finally(() => {
      authenticating = null;
    });
  }
  return authenticating;
}
async function runAuthentication() {
  for (;;) {
    let found;
    try {
      found = await probeAccess();
    } catch (err) {
      showBanner(err.message);
      await sleep(REFRESH_MS);
      continue;
    }
    if (found !== "none") {
      hideBanner();
      setAccess(found);
      return;
    }
    const refused = token() !== "";
    sessionStorage.removeItem(TOKEN_KEY);
    setAccess("none");
    const entered = await askToken(
      refused ? "The API refused that token. Enter another one." : "This controller requires an API token.",
    );
    sessionStorage.setItem(TOKEN_KEY, entered);
  }
}

// ---------------------------------------------------------------- dialogs and actions

function confirmAction(title, content, okLabel, danger) {
  const dialog = $("#confirm-dialog");
  setText($("#confirm-title"), title);
  const target = $("#confirm-body");
  target.replaceChildren();
  append(target, [content].flat().map((c) => (typeof c === "string" ? h("p", null, c) : c)));
  const ok = $("#confirm-ok");
  setText(ok, okLabel || "Confirm");
  ok.className = danger === false ? "primary" : "danger";
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}
async function confirmOrCancel(title, content, okLabel, danger) {
  if (!(await confirmAction(title, content, okLabel, danger))) throw new Cancelled();
}

let refresh = () => {};

/** Runs an action; the API's error goes to errorEl (next to the action), as it came. */
async function run(scope, errorEl, okEl, what, fn) {
  setText(errorEl, "");
  setText(okEl, "");
  const buttons = scope instanceof HTMLButtonElement ? [scope] : $$("button", scope);
  for (const b of buttons) b.disabled = true;
  try {
    const message = await fn();
    if (message) setText(okEl, message);
    refresh();
  } catch (err) {
    if (err instanceof Cancelled) return;
    if (err.status === 401) authenticate();
    const message = (what ? what + ": " : "") + err.message;
    if (errorEl) setText(errorEl, message);
    else showBanner(message);
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

const actions = {};

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.action) return;
  event.preventDefault();
  const handler = actions[form.dataset.action];
  if (!handler) return;
  run(form, $("[data-error]", form), $("[data-ok]", form), "", () => handler(form, new FormData(form)));
});

/** A button inside a live table; its errors go to the section's error line. */
function rowButton(label, key, section, what, fn, cls) {
  const button = h("button", { type: "button", class: cls || "small", "data-key": key, "data-mutating": true }, label);
  button.addEventListener("click", () =>
    run(button, $('[data-errors="' + section + '"]'), null, what, fn));
  return button;
}

function field(data, name) {
  const value = data.get(name);
  return value === null ? "" : String(value).trim();
}

// ---------------------------------------------------------------- live refresh

function live(load) {
  let busy = false;
  let again = false;
  async function tick() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      await load();
      hideBanner();
    } catch (err) {
      if (err.status === 401) await authenticate();
      else showBanner(err.message);
    } finally {
      busy = false;
      if (again) {
        again = false;
        tick();
      }
    }
  }
  refresh = tick;
  tick();
  setInterval(() => {
    if (!document.hidden) tick();
  }, REFRESH_MS);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) tick();
  });
}

// ---------------------------------------------------------------- health

function healthBadges(health, cluster) {
  const out = [];
  if (!health || health.failed) return [badge("health unknown", "muted")];
  if (health.nodes_down > 0) out.push(badge(health.nodes_down + " down", "bad"));
  if (health.safe_mode) out.push(badge("safe mode", "warn"));
  if (health.nodes_behind > 0) out.push(badge(health.nodes_behind + " behind", "warn"));
  if (out.length === 0) {
    if (health.nodes.some((n) => !n.probed)) out.push(badge("not probed yet", "muted"));
    else out.push(badge("healthy", "ok"));
  }
  if (cluster && cluster.shards.some((s) => s.migrating_slot)) out.push(badge("migrating", "info"));
  return out;
}
function nodeState(n) {
  if (!n) return badge("unknown", "muted");
  if (!n.up) return badge("down", "bad");
  if (!n.probed) return badge("not probed", "muted");
  return badge("up", "ok");
}
function healthById(health) {
  const map = new Map();
  if (health && !health.failed) for (const n of health.nodes) map.set(n.id, n);
  return map;
}

// ---------------------------------------------------------------- page: namespaces

async function loadNamespaces() {
  const { namespaces } = await api("GET", "/namespaces");
  const counts = await Promise.all(
    namespaces.map((ns) => api("GET", nsApi(ns) + "/clusters").then((d) => d.clusters.length, () => "?")),
  );
  update($("#namespaces"), [namespaces, counts], () =>
    namespaces.length === 0
      ? muted("No namespaces yet.")
      : table(
          [{ label: "Namespace" }, { label: "Clusters", num: true }, { label: "Actions", mutating: true }],
          namespaces.map((ns, i) => [
            h("a", { href: nsUi(ns), "data-key": "ns-" + ns }, ns),
            String(counts[i]),
            rowButton("Delete", "ns-del-" + ns, "namespaces", "delete " + ns, async () => {
              await confirmOrCancel(
                "Delete namespace " + ns + "?",
                "The API refuses while the namespace still holds clusters.",
                "Delete namespace",
              );
              await api("DELETE", nsApi(ns));
            }, "small danger"),
          ]),
        ),
  );
}

actions["create-namespace"] = async (form, data) => {
  const namespace = field(data, "namespace");
  await api("POST", "/namespaces", { namespace });
  form.reset();
  return "Created namespace " + namespace + ".";
};

// ---------------------------------------------------------------- page: namespace

async function loadNamespace() {
  const { clusters } = await api("GET", nsApi(ctx.ns) + "/clusters");
  const rows = await Promise.all(
    clusters.map(async (name) => {
      const base = clusterApi(ctx.ns, name);
      const [c, health] = await Promise.all([soft(api("GET", base)), soft(api("GET", base + "/health"))]);
      const cluster = c.failed ? null : c.cluster;
      return {
        name,
        error: c.failed || null,
        shards: cluster ? cluster.shards.length : null,
        nodes: cluster ? cluster.shards.reduce((n, s) => n + s.nodes.length, 0) : null,
        version: cluster ? cluster.version : null,
        health: healthBadges(health, cluster).map((b) => [b.className, b.textContent]),
      };
    }),
  );
  update($("#clusters"), rows, () =>
    rows.length === 0
      ? muted("No clusters in this namespace yet.")
      : table(
          [
            { label: "Cluster" },
            { label: "Shards", num: true },
            { label: "Nodes", num: true },
            { label: "Version", num: true },
            { label: "Health" },
            { label: "Actions", mutating: true },
          ],
          rows.map((r) => [
            h("a", { href: clusterUi(ctx.ns, r.name), "data-key": "cl-" + r.name }, r.name),
            r.shards === null ? "—" : String(r.shards),
            r.nodes === null ? "—" : String(r.nodes),
            r.version === null ? "—" : String(r.version),
            r.error
              ? h("span", { class: "error" }, r.error)
              : r.health.map(([cls, label]) => [h("span", { class: cls }, label), " "]),
            rowButton("Delete", "cl-del-" + r.name, "clusters", "delete " + r.name, async () => {
              await confirmOrCancel(
                "Delete cluster " + r.name + "?",
                "Its topology is removed from the controller; the Kvrocks nodes keep running and keep their data.",
                "Delete cluster",
              );
              await api("DELETE", clusterApi(ctx.ns, r.name));
            }, "small danger"),
          ]),
        ),
  );
}

actions["create-cluster"] = async (form, data) => {
  const replicas = field(data, "replicas");
  const answer = await api("POST", nsApi(ctx.ns) + "/clusters", {
    name: field(data, "name"),
    nodes: splitList(data.get("nodes")),
    replicas: replicas === "" ? 1 : Number(replicas),
    password: String(data.get("password") || ""),
    check_nodes: data.get("check_nodes") !== null,
  });
  form.reset();
  const c = answer.cluster;
  return "Created cluster " + c.name + ": " + c.shards.length + " shards, version " + c.version + ".";
};

actions["import-cluster"] = async (form, data) => {
  const name = field(data, "name");
  const answer = await api("POST", clusterApi(ctx.ns, name) + "/import", {
    nodes: splitList(data.get("nodes")),
    password: String(data.get("password") || ""),
  });
  form.reset();
  return "Imported cluster " + answer.cluster.name + ": " + answer.cluster.shards.length + " shards.";
};

// ---------------------------------------------------------------- slot map

const slotMap = (() => {
  const canvas = $("#slotmap");
  if (!canvas) return null;
  const g = canvas.getContext("2d");
  const owner = new Int16Array(SLOTS).fill(-1);
  const movingTo = new Int16Array(SLOTS).fill(-1);
  const reduceMotion = matchMedia("(prefers-reduced-motion: reduce)").matches;
  let cluster = null;
  let anyMoving = false;
  let phase = 0;
  let cursor = -1;
  let hover = -1;

  function colorOf(slot) {
    if (movingTo[slot] >= 0 && ((slot % COLS) + ((slot / COLS) | 0) + phase) % 2 === 0) {
      return MIGRATING_COLOR;
    }
    return owner[slot] < 0 ? UNASSIGNED_COLOR : shardColor(owner[slot]);
  }
  function draw() {
    g.clearRect(0, 0, canvas.width, canvas.height);
    for (let row = 0; row < SLOTS / COLS; row++) {
      let start = 0;
      let color = colorOf(row * COLS);
      for (let col = 1; col <= COLS; col++) {
        const next = col < COLS ? colorOf(row * COLS + col) : null;
        if (next !== color) {
          g.fillStyle = color;
          g.fillRect(start * CELL, row * CELL, (col - start) * CELL, CELL);
          start = col;
          color = next;
        }
      }
    }
    if (cursor >= 0 && document.activeElement === canvas) {
      const x = (cursor % COLS) * CELL;
      const y = ((cursor / COLS) | 0) * CELL;
      g.lineWidth = 2;
      g.strokeStyle = "#000000";
      g.strokeRect(x - 2, y - 2, CELL + 4, CELL + 4);
      g.strokeStyle = "#ffffff";
      g.strokeRect(x - 4, y - 4, CELL + 8, CELL + 8);
    }
  }
  function rangeOf(shard, slot) {
    for (const r of shard.slot_ranges) {
      const p = parseRange(r);
      if (p && slot >= p[0] && slot <= p[1]) return r;
    }
    return "";
  }
  function describe(slot) {
    if (slot < 0 || !cluster) return "No slot selected.";
    const o = owner[slot];
    let text = "Slot " + slot + ": ";
    if (o < 0) text += "not assigned to any shard";
    else {
      const shard = cluster.shards[o];
      const master = shard.nodes.find((n) => n.role === "master");
      text += "shard " + o + " (range " + rangeOf(shard, slot) + (master ? ", master " + master.addr : "") + ")";
    }
    if (movingTo[slot] >= 0) text += "; migrating to shard " + movingTo[slot];
    return text;
  }
  function readout() {
    setText($("#slot-readout"), describe(hover >= 0 ? hover : cursor));
  }
  function legend() {
    const items = cluster.shards.map((s, i) => {
      const n = countSlots(s.slot_ranges) || 0;
      return h("li", null,
        h("span", { class: "swatch", style: { background: shardColor(i) } }),
        h("span", null, h("strong", null, "Shard " + i), ": " + n + " slots",
          s.slot_ranges.length ? " · " + shortList(s.slot_ranges, 4) : ""));
    });
    cluster.shards.forEach((s, i) => {
      if (s.migrating_slot) {
        items.push(h("li", { "data-migrating": "" },
          h("span", { class: "swatch migrating", style: { background: shardColor(i) } }),
          h("span", null, h("strong", null, "Migrating"), ": " + s.migrating_slot + " from shard " + i + " to shard " + s.target_shard_index)));
      }
    });
    const unassigned = owner.reduce((n, o) => n + (o < 0 ? 1 : 0), 0);
    if (unassigned > 0) {
      items.push(h("li", null, h("span", { class: "swatch", style: { background: UNASSIGNED_COLOR } }),
        h("span", null, h("strong", null, "Unassigned"), ": " + unassigned + " slots")));
    }
    const el = $("#slot-legend");
    el.replaceChildren();
    append(el, items);
    const parts = cluster.shards.map((s, i) => "shard " + i + " owns " + (countSlots(s.slot_ranges) || 0) + " slots");
    cluster.shards.forEach((s, i) => {
      if (s.migrating_slot) parts.push("slots " + s.migrating_slot + " migrating from shard " + i + " to shard " + s.target_shard_index);
    });
    canvas.setAttribute("aria-label", "Slot map: " + (parts.join("; ") || "no shards"));
  }
  function set(next) {
    const signature = JSON.stringify(next.shards.map((s) => [s.slot_ranges, s.migrating_slot, s.target_shard_index, s.nodes.map((n) => n.addr + n.role)]));
    cluster = next;
    if (signatures.get(canvas) === signature) return;
    signatures.set(canvas, signature);
    owner.fill(-1);
    movingTo.fill(-1);
    anyMoving = false;
    next.shards.forEach((s, i) => {
      for (const r of s.slot_ranges) {
        const p = parseRange(r);
        if (p) owner.fill(i, p[0], p[1] + 1);
      }
      const m = s.migrating_slot ? parseRange(s.migrating_slot) : null;
      if (m) {
        movingTo.fill(s.target_shard_index, m[0], m[1] + 1);
        anyMoving = true;
      }
    });
    canvas.dataset.migrating = anyMoving ? "yes" : "no";
    draw();
    legend();
    readout();
  }
  function slotAt(event) {
    const rect = canvas.getBoundingClientRect();
    const col = Math.floor(((event.clientX - rect.left) / rect.width) * COLS);
    const row = Math.floor(((event.clientY - rect.top) / rect.height) * COLS);
    if (col < 0 || col >= COLS || row < 0 || row >= COLS) return -1;
    return row * COLS + col;
  }
  canvas.addEventListener("mousemove", (event) => {
    hover = slotAt(event);
    readout();
  });
  canvas.addEventListener("mouseleave", () => {
    hover = -1;
    readout();
  });
  canvas.addEventListener("focus", () => {
    if (cursor < 0) cursor = 0;
    draw();
    readout();
  });
  canvas.addEventListener("blur", draw);
  canvas.addEventListener("keydown", (event) => {
    const steps = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: COLS, ArrowUp: -COLS, PageDown: COLS * 8, PageUp: -COLS * 8 };
    let next = cursor;
    if (event.key in steps) next = cursor + steps[event.key];
    else if (event.key === "Home") next = cursor - (cursor % COLS);
    else if (event.key === "End") next = cursor - (cursor % COLS) + COLS - 1;
    else return;
    event.preventDefault();
    cursor = Math.min(SLOTS - 1, Math.max(0, next));
    hover = -1;
    draw();
    readout();
  });
  setInterval(() => {
    if (!anyMoving || reduceMotion || document.hidden) return;
    phase ^= 1;
    draw();
  }, 700);
  return { set };
})();

// ---------------------------------------------------------------- page: cluster

let current = null;

async function loadCluster() {
  const base = clusterApi(ctx.ns, ctx.cluster);
  const [c, health, tasks, failovers] = await Promise.all([
    api("GET", base),
    soft(api("GET", base + "/health")),
    soft(api("GET", base + "/tasks")),
    soft(api("GET", base + "/failovers")),
  ]);
  const cluster = c.cluster;
  current = { cluster, health, tasks };
  renderSummary(cluster, health, tasks);
  slotMap.set(cluster);
  renderShards(cluster, health);
  renderTasks(tasks);
  renderFailovers($("#failovers"), failovers, () => true);
  updateSelects(cluster);
}

function renderSummary(cluster, health, tasks) {
  const nodes = cluster.shards.reduce((n, s) => n + s.nodes.length, 0);
  const assigned = cluster.shards.reduce((n, s) => n + (countSlots(s.slot_ranges) || 0), 0);
  const active = tasks && tasks.tasks ? tasks.tasks.filter((t) => t.state === "queued" || t.state === "running").length : null;
  const notes = [];
  if (health && !health.failed) {
    if (health.safe_mode) notes.push("Safe mode: " + (health.safe_mode_reason || "too many nodes failing at once; no failover"));
    for (const [shard, why] of Object.entries(health.failover_blocked || {})) notes.push("Shard " + shard + ": no failover: " + why);
    for (const [id, version] of Object.entries(health.ahead || {})) notes.push("Node " + id.slice(0, 8) + " reports version " + version + ", newer than the stored one");
  } else if (health && health.failed) notes.push("Health unavailable: " + health.failed);
  const badges = healthBadges(health, cluster).map((b) => [b.className, b.textContent]);
  update($("#summary"), [cluster.version, cluster.shards.length, nodes, assigned, active, badges, notes], () => [
    h("dl", { class: "stats" },
      h("div", null, h("dt", null, "Version"), h("dd", null, String(cluster.version))),
      h("div", null, h("dt", null, "Shards"), h("dd", null, String(cluster.shards.length))),
      h("div", null, h("dt", null, "Nodes"), h("dd", null, String(nodes))),
      h("div", null, h("dt", null, "Slots assigned"), h("dd", null, assigned + " / " + SLOTS)),
      h("div", null, h("dt", null, "Active tasks"), h("dd", null, active === null ? "—" : String(active))),
      h("div", null, h("dt", null, "Health"), h("dd", null, badges.map(([cls, label]) => [h("span", { class: cls }, label), " "])))),
    notes.length ? h("ul", { class: "notes" }, notes.map((n) => h("li", { class: "error" }, n))) : null,
  ]);
}

function renderShards(cluster, health) {
  const byId = healthById(health);
  const view = cluster.shards.map((s, i) => ({
    i,
    ranges: s.slot_ranges,
    slots: countSlots(s.slot_ranges) || 0,
    migrating: s.migrating_slot,
    target: s.target_shard_index,
    nodes: s.nodes.map((n) => {
      const x = byId.get(n.id);
      return {
        id: n.id,
        addr: n.addr,
        role: n.role,
        health: x ? [x.up, x.probed, x.failures, x.reported_version, x.behind, x.role_seen, x.last_error] : null,
      };
    }),
  }));
  update($("#shards"), view, () => (view.length === 0 ? muted("No shards.") : view.map((s) => shardCard(s, byId))));
}

function shardCard(s, byId) {
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
  const rows = s.nodes.map((n) => {
    const x = byId.get(n.id);
    const seen = x && x.role_seen ? x.role_seen : "—";
    return [
      h("a", { href: nodeUi(ctx.ns, ctx.cluster, n.id), "data-key": "node-" + n.id, title: n.id }, n.addr),
      n.role,
      nodeState(x),
      x ? String(x.failures) : "—",
      x && x.reported_version !== null ? [String(x.reported_version), x.behind ? [" ", badge("behind", "warn")] : null] : "—",
      x && x.role_seen && x.role_seen !== n.role ? badge(seen, "warn") : seen,
      x && x.last_error ? h("span", { class: "muted" }, x.last_error) : "",
      n.role === "slave"
        ? [
            rowButton("Promote", "promote-" + n.id, "shards", "promote " + n.addr, async () => {
              await confirmOrCancel(
                "Fail shard " + s.i + " over to " + n.addr + "?",
                "The current master becomes a replica; the API refuses if " + n.addr + " cannot be promoted (down, syncing, no data).",
                "Fail over",
              );
              const r = await api("POST", base + "/failover", { preferred_node_id: n.id });
              return "New master of shard " + s.i + ": " + r.new_master_id;
            }),
            rowButton("Remove", "remove-" + n.id, "shards", "remove " + n.addr, async () => {
              await confirmOrCancel(
                "Remove " + n.addr + " from shard " + s.i + "?",
                "The node leaves the topology; the process keeps running.",
                "Remove node",
              );
              await api("DELETE", base + path("nodes", n.id));
            }, "small danger"),
          ]
        : "",
    ];
  });
  return h("article", { class: "shard", id: "shard-" + s.i, "aria-labelledby": "shard-" + s.i + "-h" },
    h("header", null,
      h("span", { class: "swatch", style: { background: shardColor(s.i) } }),
      h("h3", { id: "shard-" + s.i + "-h" }, "Shard " + s.i),
      h("span", { class: "muted" }, s.slots + " slots" + (s.ranges.length ? ": " + shortList(s.ranges, 6) : "")),
      s.migrating ? badge("migrating " + s.migrating + " to shard " + s.target, "warn") : null,
      h("div", { class: "actions", "data-mutating": true },
        replicas.length > 0
          ? rowButton("Fail over", "failover-" + s.i, "shards", "fail over shard " + s.i, async () => {
              await confirmOrCancel(
                "Fail over shard " + s.i + "?",
                "The replica with the most data becomes master; the current master becomes a replica.",
                "Fail over",
              );
              const r = await api("POST", base + "/failover", {});
              return "New master of shard " + s.i + ": " + r.new_master_id;
            })
          : null,
        s.slots === 0 && !s.migrating
          ? rowButton("Delete shard", "delete-shard-" + s.i, "shards", "delete shard " + s.i, async () => {
              await confirmOrCancel("Delete shard " + s.i + "?", "It owns no slots; its nodes leave the topology.", "Delete shard");
              await api("DELETE", base);
            }, "small danger")
          : null)),
    h("div", { class: "table-wrap" }, table(columns, rows)));
}

function renderTasks(tasks) {
  const el = $("#tasks");
  if (!tasks || tasks.failed) {
    update(el, ["failed", tasks && tasks.failed], () => muted("Tasks unavailable: " + (tasks ? tasks.failed : "no answer")));
    return;
  }
  const list = tasks.tasks.slice().reverse().slice(0, 30);
  const view = list.map((t) => [t.id, t.kind, t.state, t.source, t.target, t.ranges, t.in_flight, t.slots_done, t.slots_total, t.error, t.slot_only, t.cancel_requested]);
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

const TASK_BADGE = { queued: "muted", running: "info", succeeded: "ok", failed: "bad", cancelled: "muted" };

function taskRow(t) {
  const active = t.state === "queued" || t.state === "running";
  const total = t.slots_total || 0;
  const done = t.slots_done || 0;
  const pct = total > 0 ? Math.floor((done * 100) / total) : t.state === "succeeded" ? 100 : 0;
  const move = t.kind === "remove_shards"
    ? "remove drained shards"
    : "shard " + t.source + " → shard " + t.target + (t.slot_only ? " (slot only)" : "");
  return [
    mono(t.id.length > 18 ? t.id.slice(0, 18) + "…" : t.id, t.id),
    move,
    t.ranges.length ? shortList(t.ranges, 4) : "—",
    [badge(t.state, TASK_BADGE[t.state] || "muted"), t.in_flight ? h("div", { class: "muted" }, "moving " + t.in_flight) : null,
      t.cancel_requested && active ? h("div", { class: "muted" }, "cancel requested") : null],
    t.kind === "remove_shards"
      ? "—"
      : h("span", { "data-task-progress": t.id },
          h("progress", { max: String(Math.max(total, 1)), value: String(total > 0 ? done : pct === 100 ? 1 : 0), "aria-label": "progress of task " + t.id }),
          h("span", { class: "progress-text" }, done + " / " + total + " slots · " + pct + "%")),
    t.error ? h("span", { class: "error" }, t.error) : "",
    active && !t.cancel_requested
      ? rowButton("Cancel", "cancel-" + t.id, "tasks", "cancel " + t.id, async () => {
          await confirmOrCancel("Cancel task " + t.id + "?", "The range in flight finishes or fails; the ranges not started stay where they are.", "Cancel task");
          await api("DELETE", clusterApi(ctx.ns, ctx.cluster) + path("tasks", t.id));
        }, "small danger")
      : "",
  ];
}

function renderFailovers(el, failovers, keep) {
  if (!failovers || failovers.failed) {
    update(el, ["failed", failovers && failovers.failed], () => muted("Failover history unavailable: " + (failovers ? failovers.failed : "no answer")));
    return;
  }
  const list = failovers.failovers.filter(keep).slice().reverse();
  update(el, list, () =>
    list.length === 0
      ? muted("No failovers recorded.")
      : table(
          [
            { label: "When" },
            { label: "Shard", num: true },
            { label: "Old master" },
            { label: "New master" },
            { label: "Reason" },
            { label: "Failures", num: true },
            { label: "Took", num: true },
            { label: "Version", num: true },
          ],
          list.map((f) => [
            h("time", { datetime: new Date(f.at).toISOString(), class: "nowrap" }, when(f.at)),
            String(f.shard),
            h("a", { href: nodeUi(ctx.ns, ctx.cluster, f.old_master_id), title: f.old_master_id }, f.old_master_addr),
            f.outcome === "refused" ? "not failed over" : h("a", { href: nodeUi(ctx.ns, ctx.cluster, f.new_master_id), title: f.new_master_id }, f.new_master_addr),
            f.reason,
            f.failures === null ? "—" : String(f.failures),
            f.duration_ms + " ms",
            String(f.version),
          ]),
        ),
  );
}

function setOptions(select, options) {
  if (!select) return;
  const signature = JSON.stringify(options);
  if (signatures.get(select) === signature) return;
  signatures.set(select, signature);
  const keep = select.value;
  select.replaceChildren();
  append(select, options.map(([value, label]) => h("option", { value: value }, label)));
  if (options.some((o) => o[0] === keep)) select.value = keep;
}

function updateSelects(cluster) {
  const shards = cluster.shards.map((s, i) => {
    const master = s.nodes.find((n) => n.role === "master");
    return [String(i), "shard " + i + " · " + (countSlots(s.slot_ranges) || 0) + " slots · " + (master ? master.addr : "no master")];
  });
  for (const select of $$('select[data-options="shards"]')) setOptions(select, shards);
  updateReplicas();
}

function updateReplicas() {
  const form = $('form[data-action="failover"]');
  if (!form || !current) return;
  const shard = current.cluster.shards[Number(form.elements.namedItem("shard").value)];
  const options = [["", "best replica (most data)"]];
  if (shard) for (const n of shard.nodes) if (n.role === "slave") options.push([n.id, n.addr + " (" + n.id.slice(0, 8) + ")"]);
  setOptions(form.elements.namedItem("preferred"), options);
}

actions.migrate = async (form, data) => {
  const ranges = splitList(data.get("ranges"));
  const target = field(data, "target");
  const slotOnly = data.get("slot_only") !== null;
  const n = countSlots(ranges);
  await confirmOrCancel(
    "Migrate " + (n === null ? "" : n + " ") + "slots to shard " + target + "?",
    [
      "Ranges: " + (ranges.join(", ") || "none"),
      slotOnly
        ? "Slot only: the topology changes at once and no data is copied; keys in these slots stay on the old shard."
        : "With data: the source master copies the keys to shard " + target + ", one range at a time; progress shows below.",
    ],
    slotOnly ? "Move slots" : "Start migration",
  );
  const answer = await api("POST", clusterApi(ctx.ns, ctx.cluster) + "/migrate", {
    target: target === "" ? null : Number(target),
    slots: ranges,
    slot_only: slotOnly,
  });
  form.elements.namedItem("ranges").value = "";
  if (answer.task) return "Started task " + answer.task.id + " (" + answer.task.slots_total + " slots).";
  return "Moved; cluster version is now " + answer.cluster.version + ".";
};

actions.failover = async (form, data) => {
  const shard = field(data, "shard");
  const preferred = field(data, "preferred");
  const label = preferred ? "to " + preferred.slice(0, 8) : "to its best replica";
  await confirmOrCancel(
    "Fail over shard " + shard + " " + label + "?",
    "The current master becomes a replica. The API refuses a preferred node that cannot be promoted.",
    "Fail over",
  );
  const answer = await api("POST", clusterApi(ctx.ns, ctx.cluster) + path("shards", shard) + "/failover",
    preferred ? { preferred_node_id: preferred } : {});
  return "New master of shard " + shard + ": " + answer.new_master_id;
};

function planView(plan) {
  const lines = [];
  if (plan.add_shards) lines.push(h("p", null, "Adds " + plan.add_shards + " shard(s)."));
  if (plan.remove_shards && plan.remove_shards.length) lines.push(h("p", null, "Removes shard(s) " + plan.remove_shards.join(", ") + " once drained."));
  if (plan.moves.length === 0) lines.push(h("p", null, "No slots need to move."));
  else {
    const total = plan.moves.reduce((n, m) => n + m.slots, 0);
    lines.push(h("p", null, plan.moves.length + " move(s), " + total + " slots:"));
    lines.push(h("div", { class: "table-wrap", id: "plan-moves" }, table(
      [{ label: "From" }, { label: "To" }, { label: "Slots", num: true }, { label: "Ranges" }],
      plan.moves.map((m) => ["shard " + m.source, "shard " + m.target, String(m.slots), shortList(m.ranges, 6)]),
    )));
  }
  return lines;
}

actions.scale = async (form, data) => {
  const password = String(data.get("password") || "");
  const request = {
    add_shards: String(data.get("add") || "").split("\n").map((line) => splitList(line)).filter((nodes) => nodes.length)
      .map((nodes) => ({ nodes, password })),
    remove_shards: splitList(data.get("remove")).map((x) => (/^\d+$/.test(x) ? Number(x) : x)),
    slot_only: data.get("slot_only") !== null,
  };
  const base = clusterApi(ctx.ns, ctx.cluster) + "/scale";
  const dry = await api("POST", base, Object.assign({}, request, { dry_run: true }));
  await confirmOrCancel("Apply this plan?", planView(dry.plan), "Apply plan");
  const answer = await api("POST", base, Object.assign({}, request, { dry_run: false }));
  form.reset();
  if (answer.tasks && answer.tasks.length) return "Queued " + answer.tasks.length + " task(s); progress shows under Migration tasks.";
  if (answer.cluster) return "Applied; cluster version is now " + answer.cluster.version + ".";
  return "Nothing to do.";
};

actions["add-shard"] = async (form, data) => {
  const answer = await api("POST", clusterApi(ctx.ns, ctx.cluster) + "/shards", {
    nodes: splitList(data.get("nodes")),
    password: String(data.get("password") || ""),
  });
  form.reset();
  const master = answer.shard.nodes.find((n) => n.role === "master");
  return "Added a shard with " + answer.shard.nodes.length + " node(s)" + (master ? ", master " + master.addr : "") + ".";
};

actions["add-node"] = async (form, data) => {
  const shard = field(data, "shard");
  const id = await api("POST", clusterApi(ctx.ns, ctx.cluster) + path("shards", shard) + "/nodes", {
    addr: field(data, "addr"),
    role: field(data, "role") || "slave",
    password: String(data.get("password") || ""),
  });
  form.elements.namedItem("addr").value = "";
  return "Added node " + id + " to shard " + shard + ".";
};

actions.sync = async (form, data) => {
  const answer = await api("POST", clusterApi(ctx.ns, ctx.cluster) + "/sync", { force: data.get("force") !== null });
  const failed = answer.results.filter((r) => !r.ok);
  // Nodes that missed the push are errors of this action; the probe repairs them later.
  setText($("[data-error]", form), failed.map((r) => r.addr + ": " + (r.error || "failed")).join("\n"));
  return "Pushed to " + (answer.results.length - failed.length) + " of " + answer.results.length + " nodes.";
};

// ---------------------------------------------------------------- page: node

async function loadNode() {
  const base = clusterApi(ctx.ns, ctx.cluster);
  const [c, health, failovers] = await Promise.all([
    api("GET", base),
    soft(api("GET", base + "/health")),
    soft(api("GET", base + "/failovers")),
  ]);
  const cluster = c.cluster;
  const shardIndex = cluster.shards.findIndex((s) => s.nodes.some((n) => n.id === ctx.node));
  const node = shardIndex < 0 ? null : cluster.shards[shardIndex].nodes.find((n) => n.id === ctx.node);
  const x = healthById(health).get(ctx.node);
  const view = [cluster.version, shardIndex, node, x || null, health && health.failed];
  update($("#node"), view.concat([x ? ago(x.last_ok) : null]), () => {
    if (!node) return muted("No node with this id in cluster " + ctx.cluster + " (removed?).");
    const row = (k, v) => [h("dt", null, k), h("dd", null, v)];
    return h("dl", { class: "kv" },
      row("Address", mono(node.addr)),
      row("ID", mono(node.id)),
      row("Shard", h("a", { href: clusterUi(ctx.ns, ctx.cluster) + "#shard-" + shardIndex }, "shard " + shardIndex)),
      row("Role (stored)", node.role),
      row("State", nodeState(x)),
      row("Role seen by the probe", x && x.role_seen ? x.role_seen : "—"),
      row("Consecutive failures", x ? String(x.failures) : "—"),
      row("Last OK", x && x.last_ok ? when(x.last_ok) + " (" + ago(x.last_ok) + ")" : "never"),
      row("Last error", x && x.last_error ? x.last_error : "—"),
      row("Reported version", x && x.reported_version !== null
        ? [String(x.reported_version) + " (cluster " + cluster.version + ")", x.behind ? [" ", badge("behind", "warn")] : null]
        : "—"),
      row("Added", node.created_at ? when(node.created_at * 1000) : "—"),
      health && health.failed ? row("Health", h("span", { class: "error" }, health.failed)) : null,
    );
  });
  if (node) {
    const title = "Node " + node.addr;
    if (document.title.indexOf(title) !== 0) {
      document.title = title + " · kvrocks-controller";
      setText($("h1"), title);
    }
  }
  const shardApi = base + path("shards", shardIndex);
  update($("#node-actions"), [shardIndex, node && node.role], () => {
    if (!node) return muted("Nothing to do.");
    if (node.role === "master") return muted("This node is the master of shard " + shardIndex + ". Fail the shard over to make it a replica before removing it.");
    return h("div", { class: "buttons", style: { justifyContent: "flex-start" } },
      rowButton("Fail shard " + shardIndex + " over to this node", "node-promote", "node-actions", "fail over", async () => {
        await confirmOrCancel("Make " + node.addr + " the master of shard " + shardIndex + "?", "The current master becomes a replica.", "Fail over");
        await api("POST", shardApi + "/failover", { preferred_node_id: node.id });
      }, "primary"),
      rowButton("Remove from the cluster", "node-remove", "node-actions", "remove", async () => {
        await confirmOrCancel("Remove " + node.addr + " from shard " + shardIndex + "?", "The node leaves the topology; the process keeps running.", "Remove node");
        await api("DELETE", shardApi + path("nodes", node.id));
        location.assign(clusterUi(ctx.ns, ctx.cluster));
      }, "danger"));
  });
  renderFailovers($("#node-failovers"), failovers, (f) => f.old_master_id === ctx.node || f.new_master_id === ctx.node);
}

// ---------------------------------------------------------------- start

$("#signout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
});
$("#token-dialog").addEventListener("cancel", (event) => event.preventDefault());
const failoverShard = $('form[data-action="failover"] select[name="shard"]');
if (failoverShard) failoverShard.addEventListener("change", updateReplicas);

const loaders = { namespaces: loadNamespaces, namespace: loadNamespace, cluster: loadCluster, node: loadNode };

(async () => {
  await authenticate();
  const load = loaders[page];
  if (load) live(load);
  body.dataset.ready = "yes";
})();
`;
