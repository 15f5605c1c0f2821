// The web console end to end: Debian's headless Chromium (driven by playwright-core) against
// a real server process over the shared real etcd, with simulator nodes and probe rounds run
// in this process against the same key prefix. Nothing is skipped: without Chromium the
// tests fail and say how to install it.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { masterOf } from "../../lib/model/index.js";
import { probeAllClusters } from "../../lib/probe/index.js";
import { countSlots, parseSlotRange } from "../../lib/slots/index.js";
import { probeDeps, round } from "../probe/helpers.js";
import { chromiumMissing, launchChromium } from "../support/chromium.js";
import { sharedEtcdEndpoints } from "../support/env.js";
import { freePort } from "../support/etcd.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import { keySlot } from "../support/kvrocks-sim/keyslot.js";
import type { TestNode } from "../support/nodes.js";

const ARTIFACTS = "test/artifacts/ui";
const FULL_TOKEN = "ui-full-token";
const READONLY_TOKEN = "ui-readonly-token";
const SHOP_TOKEN = "ui-shop-token";
// The client's palette (functions/ui/client/slots.ts): shards 0, 1, 2, and the migrating highlight.
const SHARD_COLOURS = ["#4e79a7", "#f28e2b", "#59a14f"];
const MIGRATING_COLOUR = "#ff00cc";
const WAIT = 10_000;

let h: Harness;
let server: ChildProcess;
let serverOutput = "";
let base = "";
let browser: Browser;
let full: BrowserContext;
let page: Page;

// Without Chromium every test fails with this message (none is skipped).
const missingChromium = chromiumMissing();

function test(name: string, fn: () => Promise<void>) {
  it(name, async () => {
    if (missingChromium) throw new Error(missingChromium);
    await fn();
  });
}

let nodes: TestNode[] = [];

beforeAll(async () => {
  if (missingChromium) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  // The probe rounds run in this process; their log lines would only clutter the output.
  h = await startHarness({ label: "ui", env: { KVC_LOG_LEVEL: "silent" } });
  nodes = await h.startTestNodes(7);
  const [launched] = await Promise.all([launchChromium(), startServer()]);
  browser = launched;
  full = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await full.newPage();
  watch(page);
}, 40_000);

/**
 * Spawns the real server on a free port and waits until it says it listens there: a
 * /healthz answer alone could come from another test's server that took the port first.
 */
async function startServer(): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(process.execPath, ["--import", "tsx", "functions/node.ts"], {
      env: {
        ...process.env,
        KVC_ETCD_ENDPOINTS: sharedEtcdEndpoints().join(","),
        KVC_ETCD_PREFIX: h.prefix,
        KVC_HOST: "127.0.0.1",
        KVC_PORT: String(port),
        KVC_API_TOKENS: FULL_TOKEN,
        KVC_READONLY_TOKENS: READONLY_TOKEN,
        KVC_NAMESPACE_TOKENS: `shop=${SHOP_TOKEN}`,
        KVC_NODE_TIMEOUT_MS: "1000",
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    const listening = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 20_000);
      const collect = (d: Buffer) => {
        output += d.toString();
        if (
          /listening/i.test(output) &&
          new RegExp(`127\\.0\\.0\\.1:${port}\\b|"port":${port}\\b`).test(output)
        ) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      child.stdout?.on("data", collect);
      child.stderr?.on("data", collect);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    serverOutput = output;
    if (listening) {
      server = child;
      base = `http://127.0.0.1:${port}`;
      child.stdout?.on("data", (d: Buffer) => (serverOutput += d.toString()));
      child.stderr?.on("data", (d: Buffer) => (serverOutput += d.toString()));
      return;
    }
    if (child.pid && child.exitCode === null) process.kill(-child.pid, "SIGKILL");
    if (attempt === 3) throw new Error(`server did not start:\n${output}`);
  }
}

afterAll(async () => {
  await browser?.close();
  if (server?.pid) process.kill(-server.pid, "SIGTERM");
  await h?.close();
});

/** Waits until the locator's text matches. */
async function waitText(locator: Locator, text: string | RegExp, timeout = WAIT) {
  await locator.filter({ hasText: text }).first().waitFor({ timeout });
}

/** Browser-side errors, reported when a wait fails. */
const browserLog: string[] = [];
function watch(p: Page) {
  p.on("pageerror", (err) => browserLog.push(`pageerror: ${err.message}`));
  p.on("console", (m) => {
    if (m.type() === "error") browserLog.push(`console: ${m.text()}`);
  });
}

async function signIn(p: Page, token: string) {
  const dialog = p.locator("#token-dialog");
  await dialog.waitFor({ state: "visible", timeout: WAIT }).catch(async (err: Error) => {
    const access = await p.locator("#access").textContent();
    const banner = await p.locator("#banner").textContent();
    throw new Error(
      `${err.message}\naccess badge: ${access}; banner: ${banner}\nbrowser: ${browserLog.join("\n")}\nserver: ${serverOutput}`,
    );
  });
  await dialog.getByLabel("Token").fill(token);
  await dialog.getByRole("button", { name: "Use token" }).click();
}

async function shot(p: Page, name: string) {
  await p.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
}

/** The colour at the centre of every slot's cell of the canvas, counted. */
async function slotColours(p: Page): Promise<Record<string, number>> {
  return p.evaluate(`(() => {
    const canvas = document.getElementById("slotmap");
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    const counts = {};
    for (let slot = 0; slot < 16384; slot++) {
      const x = (slot % 128) * 5 + 2;
      const y = Math.floor(slot / 128) * 5 + 2;
      const i = (y * canvas.width + x) * 4;
      const hex = "#" + [data[i], data[i + 1], data[i + 2]].map((v) => v.toString(16).padStart(2, "0")).join("");
      counts[hex] = (counts[hex] || 0) + 1;
    }
    return counts;
  })()`);
}

async function slotColour(p: Page, slot: number): Promise<string> {
  return p.evaluate(`(() => {
    const canvas = document.getElementById("slotmap");
    const x = (${slot} % 128) * 5 + 2;
    const y = Math.floor(${slot} / 128) * 5 + 2;
    const d = canvas.getContext("2d").getImageData(x, y, 1, 1).data;
    return "#" + [d[0], d[1], d[2]].map((v) => v.toString(16).padStart(2, "0")).join("");
  })()`);
}

const clusterUrl = () => `${base}/ui/namespaces/shop/clusters/c1`;

describe("web console", () => {
  test("creates a namespace and a 3-shard cluster, and draws the slot map in three colours", async () => {
    await page.goto(`${base}/ui`);
    await signIn(page, FULL_TOKEN);
    await waitText(page.locator("#access"), "full access");

    const nsForm = page.locator('form[data-action="create-namespace"]');
    await nsForm.getByLabel("Name").fill("shop");
    await nsForm.getByRole("button", { name: "Create namespace" }).click();
    await page
      .locator("#namespaces")
      .getByRole("link", { name: "shop" })
      .waitFor({ timeout: WAIT });
    // The API's error shows next to the action, as it came.
    await nsForm.getByLabel("Name").fill("shop");
    await nsForm.getByRole("button", { name: "Create namespace" }).click();
    await waitText(nsForm.locator("[data-error]"), /exist/i);

    // Delete asks first; a namespace that holds nothing goes.
    await nsForm.getByLabel("Name").fill("scratch");
    await nsForm.getByRole("button", { name: "Create namespace" }).click();
    const scratch = page.locator("#namespaces tr", { hasText: "scratch" });
    await scratch.getByRole("button", { name: "Delete" }).click();
    const confirm = page.locator("#confirm-dialog");
    await waitText(confirm, "Delete namespace scratch?");
    await shot(page, "0-namespaces");
    await confirm.getByRole("button", { name: "Delete namespace" }).click();
    await scratch.waitFor({ state: "detached", timeout: WAIT });

    await page.locator("#namespaces").getByRole("link", { name: "shop" }).click();
    await page.waitForURL(`${base}/ui/namespaces/shop`);
    const clForm = page.locator('form[data-action="create-cluster"]');
    await clForm.getByLabel("Name").fill("c1");
    await clForm.getByLabel(/^Nodes \(host/).fill(
      nodes
        .slice(0, 6)
        .map((n) => n.addr)
        .join("\n"),
    );
    await clForm.getByLabel("Nodes per shard").fill("2");
    await clForm.getByRole("button", { name: "Create cluster" }).click();
    await waitText(clForm.locator("[data-ok]"), "Created cluster c1: 3 shards");
    const row = page.locator("#clusters tr", { hasText: "c1" });
    await row.waitFor({ timeout: WAIT });
    expect(await row.locator("td").allInnerTexts()).toEqual(
      expect.arrayContaining(["c1", "3", "6", "1"]),
    );

    await waitText(row, "not probed yet");
    await shot(page, "0-namespace");

    await row.getByRole("link", { name: "c1" }).click();
    await page.waitForURL(clusterUrl());
    await page.locator("#slot-legend li").nth(2).waitFor({ timeout: WAIT });
    const cluster = await h.cluster("shop", "c1");
    const colours = await slotColours(page);
    expect(Object.keys(colours).sort()).toEqual([...SHARD_COLOURS].sort());
    cluster.shards.forEach((shard, i) => {
      expect(colours[SHARD_COLOURS[i]!]).toBe(countSlots(shard.slot_ranges));
    });
    await waitText(page.locator("#summary"), "not probed yet");
    await round(h);
    await waitText(page.locator("#summary"), "healthy");
    expect(await page.locator("#shards .badge", { hasText: /^up$/ }).count()).toBe(6);

    // Keyboard: focus the map and walk it.
    await page.locator("#slotmap").focus();
    await page.keyboard.press("ArrowDown");
    await waitText(page.locator("#slot-readout"), /^Slot 128: shard 0/);
    await shot(page, "1-cluster");
  });

  test("charts each node's ops/s, memory and lag, and bars keys per shard, light and dark", async () => {
    await page.goto(clusterUrl());
    const cluster = await h.cluster("shop", "c1");
    // Writes on every master: each key lands on the one that owns its slot.
    const written = [0, 0, 0];
    for (let i = 0; written.reduce((a, b) => a + b, 0) < 300; i++) {
      const key = `chart:${i}`;
      const shard = cluster.shards.findIndex((s) =>
        s.slot_ranges.some((r) => keySlot(key) >= r.start && keySlot(key) <= r.stop),
      );
      const master = nodes.find((n) => n.addr === masterOf(cluster.shards[shard]!)?.addr);
      await master!.call("SET", key, "v");
      written[shard]!++;
    }
    const stats = page.locator("#stats");
    // Two polls at least: every node has a line in each chart.
    for (const chart of ["ops", "memory", "lag"]) {
      await expect
        .poll(() => stats.locator(`[data-chart="${chart}"] g[data-node] polyline`).count(), {
          timeout: WAIT,
        })
        .toBe(6);
    }
    const keys = stats.locator('[data-chart="keys"] svg');
    await expect
      .poll(() => keys.getAttribute("aria-label"), { timeout: WAIT })
      .toBe(`Keys per shard (master): ${written.map((n, i) => `shard ${i} ${n}`).join(", ")}`);
    expect(await stats.locator('[data-chart="shard-memory"] rect').count()).toBe(3);
    expect(await stats.locator("#stats-table tbody tr", { hasText: "up" }).count()).toBe(6);
    // Replicas' lines are dashed, masters' solid.
    expect(await stats.locator('[data-chart="ops"] polyline[stroke-dasharray]').count()).toBe(3);
    // Keyboard: each chart takes focus and says what it shows now.
    const ops = stats.locator('[data-chart="ops"] svg');
    await ops.focus();
    expect(
      await page.evaluate('document.activeElement.closest("[data-chart]").dataset.chart'),
    ).toBe("ops");
    expect(await ops.getAttribute("aria-label")).toMatch(
      /^Operations per second over the last 5 minutes; now: 127\.0\.0\.1:\d+ \d+/,
    );
    await stats.scrollIntoViewIfNeeded();
    await shot(page, "2-stats-light");
    const background = () =>
      page.evaluate(
        'getComputedStyle(document.querySelector("[data-chart=ops] svg")).backgroundColor',
      );
    const light = await background();
    await page.emulateMedia({ colorScheme: "dark" });
    await expect.poll(background, { timeout: WAIT }).not.toBe(light);
    await shot(page, "2-stats-dark");
    await page.emulateMedia({ colorScheme: "light" });
  });

  test("shows a stopped master down without a reload, then its failover in the history", async () => {
    await page.evaluate("window.__sameDocument = true");
    const before = await h.cluster("shop", "c1");
    const old = masterOf(before.shards[0]!)!;
    const sim = nodes.find((n) => n.addr === old.addr)!;
    await sim.kill();
    await round(h);
    const oldRow = page.locator("#shard-0 tr", { hasText: old.addr });
    await waitText(oldRow, "down");
    await waitText(page.locator("#summary"), "1 down");
    await shot(page, "2-master-down");

    await eventually(
      async () => {
        await round(h);
        const now = await h.cluster("shop", "c1");
        return masterOf(now.shards[0]!)!.id !== old.id;
      },
      15_000,
      50,
    );
    const after = await h.cluster("shop", "c1");
    const promoted = masterOf(after.shards[0]!)!;
    const history = page.locator("#failovers tr", { hasText: old.addr });
    await waitText(history, promoted.addr);
    expect(await history.first().textContent()).toMatch(/failed \d+ probes/);
    await waitText(page.locator("#shard-0 tr", { hasText: promoted.addr }), "master");
    expect(await page.evaluate("window.__sameDocument")).toBe(true);
    await shot(page, "3-failover");

    // The old master's own page: down, with the probe's last error.
    await page.locator("#shard-0").getByRole("link", { name: old.addr }).click();
    await page.waitForURL(/\/nodes\//);
    await waitText(page.locator("#node"), "down");
    await waitText(page.locator("#node-failovers"), promoted.addr);
    expect(await page.locator("#node").textContent()).toMatch(/Last error(?!—)\S/);
    await shot(page, "4-node");

    // Drained from its page (it is a replica now, and stopped); undrain says why it waits.
    const actions = page.locator("#node-actions");
    await actions.getByRole("button", { name: "Drain for maintenance" }).click();
    const drainConfirm = page.locator("#confirm-dialog");
    await waitText(drainConfirm, `Drain ${old.addr}?`);
    await drainConfirm.getByRole("button", { name: "Drain" }).click();
    await waitText(page.locator("#node"), "drained");
    const drainedNode = (await h.cluster("shop", "c1")).shards[0]!.nodes.find(
      (n) => n.addr === old.addr,
    )!;
    expect(drainedNode.drained_at).toBeGreaterThan(0);
    await actions.getByRole("button", { name: "Undrain" }).click();
    await waitText(page.locator('[data-errors="node-actions"]'), "has not caught up");
  });

  test("runs a data migration and shows its progress reach 100%", async () => {
    await page.goto(clusterUrl());
    await page.locator("#shard-1 table").waitFor({ timeout: WAIT });
    const cluster = await h.cluster("shop", "c1");
    const start = cluster.shards[1]!.slot_ranges[0]!.start;
    const ranges = [`${start + 100}-${start + 199}`, `${start + 1000}-${start + 1049}`];
    // A few keys in the ranges so the migration copies data.
    const master = nodes.find((n) => n.addr === masterOf(cluster.shards[1]!)!.addr)!;
    let written = 0;
    const keys: string[] = [];
    for (let i = 0; written < 20 && i < 100_000; i++) {
      const slot = keySlot(`k${i}`);
      const inside = ranges.some((r) => {
        const { start: a, stop: b } = parseSlotRange(r);
        return slot >= a && slot <= b;
      });
      if (inside) {
        await master.call("SET", `k${i}`, `v${i}`);
        keys.push(`k${i}`);
        written++;
      }
    }

    const form = page.locator('form[data-action="migrate"]');
    await form.getByLabel(/^Slot ranges/).fill(ranges.join(", "));
    await form.getByLabel("Target shard").selectOption("2");
    await form.getByRole("button", { name: "Migrate…" }).click();
    const confirm = page.locator("#confirm-dialog");
    await waitText(confirm, "Migrate 150 slots to shard 2?");
    await confirm.getByRole("button", { name: "Start migration" }).click();
    await waitText(form.locator("[data-ok]"), /Started task/);

    // The first range is under way: the map highlights it until a probe round sees it done.
    await page.locator('#slotmap[data-migrating="yes"]').waitFor({ timeout: WAIT });
    await waitText(page.locator("#slot-legend"), `Migrating: ${ranges[0]} from shard 1 to shard 2`);
    expect((await slotColours(page))[MIGRATING_COLOUR] ?? 0).toBeGreaterThan(0);
    await shot(page, "5-migrating");

    const progress = page.locator("#tasks [data-task-progress]").first();
    await eventually(
      async () => {
        await round(h);
        return /succeeded/.test(
          (await page.locator("#tasks tbody tr").first().textContent()) ?? "",
        );
      },
      20_000,
      300,
    );
    await waitText(progress, "150 / 150 slots · 100%");
    expect(await page.locator("#tasks progress").first().getAttribute("value")).toBe("150");
    await page.locator('#slotmap[data-migrating="no"]').waitFor({ timeout: WAIT });
    expect(await slotColour(page, start + 150)).toBe(SHARD_COLOURS[2]);
    expect(await slotColour(page, start + 99)).toBe(SHARD_COLOURS[1]);
    await shot(page, "6-migrated");
    const target = nodes.find((n) => n.addr === masterOf(cluster.shards[2]!)!.addr)!;
    for (const k of keys) expect(await target.call("GET", k), k).toBe(`v${k.slice(1)}`);
    expect(keys).toHaveLength(written);
  });

  test("shows the planned moves of a scale-out before changing anything", async () => {
    const spare = nodes[6]!;
    const form = page.locator('form[data-action="scale"]');
    await form.getByLabel(/^Shards to add/).fill(spare.addr);
    await form.getByRole("button", { name: "Plan…" }).click();
    const confirm = page.locator("#confirm-dialog");
    await waitText(confirm, "Adds 1 shard(s).");
    const moves = confirm.locator("#plan-moves tbody tr");
    expect(await moves.count()).toBeGreaterThan(0);
    expect(await moves.allInnerTexts()).toEqual(
      expect.arrayContaining([expect.stringMatching(/shard \d\s+shard 3/)]),
    );
    await shot(page, "7-scale-plan");
    await confirm.getByRole("button", { name: "Cancel" }).click();
    expect((await h.cluster("shop", "c1")).shards).toHaveLength(3);
  });

  test("adds and removes a node and a shard, fails over to a chosen replica, pushes the topology", async () => {
    const spare = nodes[6]!;
    const confirm = page.locator("#confirm-dialog");
    const add = page.locator('form[data-action="add-node"]');
    await add.getByLabel("Shard").selectOption("1");
    await add.getByLabel(/^Address/).fill(spare.addr);
    await add.getByRole("button", { name: "Add node" }).click();
    await waitText(add.locator("[data-ok]"), /^Added node [0-9a-f]{40} to shard 1\.$/);
    const spareRow = page.locator("#shard-1 tr", { hasText: spare.addr });
    await spareRow.waitFor({ timeout: WAIT });
    await spareRow.getByRole("button", { name: "Remove" }).click();
    await waitText(confirm, `Remove ${spare.addr} from shard 1?`);
    await confirm.getByRole("button", { name: "Remove node" }).click();
    await spareRow.waitFor({ state: "detached", timeout: WAIT });
    expect((await h.cluster("shop", "c1")).shards[1]!.nodes).toHaveLength(2);

    // A new shard owns no slots, so it can be deleted again (after a confirmation).
    const addShard = page.locator('form[data-action="add-shard"]');
    await addShard.getByLabel(/^Nodes/).fill(spare.addr);
    await addShard.getByRole("button", { name: "Add shard" }).click();
    await waitText(addShard.locator("[data-ok]"), `master ${spare.addr}`);
    await waitText(page.locator("#shard-3"), "0 slots");
    await page.locator("#shard-3").getByRole("button", { name: "Delete shard" }).click();
    await waitText(confirm, "Delete shard 3?");
    await confirm.getByRole("button", { name: "Delete shard" }).click();
    await page.locator("#shard-3").waitFor({ state: "detached", timeout: WAIT });
    expect((await h.cluster("shop", "c1")).shards).toHaveLength(3);

    const replica = (await h.cluster("shop", "c1")).shards[2]!.nodes.find(
      (n) => n.role === "slave",
    )!;
    const failover = page.locator('form[data-action="failover"]');
    await failover.getByLabel("Shard").selectOption("2");
    await failover.getByLabel(/^Preferred/).selectOption(replica.id);
    await failover.getByRole("button", { name: "Fail over…" }).click();
    await waitText(confirm, `Fail over shard 2 to ${replica.id.slice(0, 8)}?`);
    await confirm.getByRole("button", { name: "Fail over" }).click();
    await waitText(failover.locator("[data-ok]"), `New master of shard 2: ${replica.id}`);
    await waitText(page.locator("#failovers tr", { hasText: "manual" }), replica.addr);
    expect(masterOf((await h.cluster("shop", "c1")).shards[2]!)!.id).toBe(replica.id);

    // The old master of shard 0 is still stopped: the push reports it next to the action.
    const sync = page.locator('form[data-action="sync"]');
    await sync.getByRole("button", { name: "Push topology" }).click();
    await waitText(sync.locator("[data-ok]"), "Pushed to 5 of 6 nodes.");
    await waitText(sync.locator("[data-error]"), /^127\.0\.0\.1:\d+: /);
    await shot(page, "8-actions");
  });

  test("hides every mutating control from a read-only token", async () => {
    // Also the dark scheme, for the screenshot.
    const readonly = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      colorScheme: "dark",
    });
    try {
      const ro = await readonly.newPage();
      watch(ro);
      await ro.goto(clusterUrl());
      await signIn(ro, READONLY_TOKEN);
      await waitText(ro.locator("#access"), "read-only token");
      await ro.locator("#shard-2 table").waitFor({ timeout: WAIT });
      await ro.locator("#tasks table").waitFor({ timeout: WAIT });
      // Accessible (visible) buttons only: all that is left is forgetting the token.
      expect(await ro.getByRole("button").allInnerTexts()).toEqual(["Forget token"]);
      expect(await ro.locator("form[data-action]").count()).toBe(6);
      for (const form of await ro.locator("form[data-action]").all()) {
        expect(await form.isVisible()).toBe(false);
      }
      await shot(ro, "9-readonly");

      // The full token, on the same page, sees the actions.
      await page.goto(clusterUrl());
      await page.locator("#shard-2 table").waitFor({ timeout: WAIT });
      const buttons = await page.getByRole("button").allInnerTexts();
      expect(buttons).toEqual(
        expect.arrayContaining(["Migrate…", "Fail over…", "Plan…", "Promote", "Remove"]),
      );
    } finally {
      await readonly.close();
    }
  });

  test("shows a namespace token only its namespace, and no namespace creation", async () => {
    const other = await h.request("POST", "/api/v1/namespaces", { namespace: "elsewhere" });
    expect([201, 409]).toContain(other.status);
    const scoped = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const ns = await scoped.newPage();
      watch(ns);
      await ns.goto(`${base}/ui`);
      await signIn(ns, SHOP_TOKEN);
      await waitText(ns.locator("#access"), "namespace shop");
      await waitText(ns.locator("#namespaces"), "shop");
      expect(await ns.locator("#namespaces").textContent()).not.toContain("elsewhere");
      expect(await ns.locator('form[data-action="create-namespace"]').isVisible()).toBe(false);
      // Its own namespace's clusters it may change: the cluster forms are there.
      await ns.goto(`${base}/ui/namespaces/shop`);
      await ns.locator('form[data-action="create-cluster"]').waitFor({ timeout: WAIT });
      await shot(ns, "10-namespace-token");
    } finally {
      await scoped.close();
    }
  });
  test("shows a dead master waiting for the observer quorum, with who judged it down", async () => {
    const cluster = await h.cluster("shop", "c1");
    const addr = masterOf(cluster.shards[0]!)!.addr;
    const master = nodes.find((n) => n.addr === addr)!;
    const quorum = { ...h.settings, quorum: 2, observer: "zone-a" };
    const quorumRound = () => probeAllClusters(probeDeps(h), quorum);
    await master.kill();
    try {
      for (let i = 0; i < h.settings.failures; i++) await quorumRound();
      await page.goto(clusterUrl());
      await waitText(
        page.locator("#summary"),
        "Shard 0: no failover: waiting for quorum: 1 of 2 observers judged the master down (zone-a)",
      );
      await shot(page, "11-quorum");
      expect((await h.cluster("shop", "c1")).version).toBe(cluster.version);
    } finally {
      await master.restart();
    }
    // Back up: the suspicion goes, so no quorum note is left for what follows.
    await eventually(
      async () => {
        await quorumRound();
        const health = await h.request("GET", "/api/v1/namespaces/shop/clusters/c1/health");
        return health.body.data.quorum.length === 0;
      },
      20_000,
      100,
    );
  });
});
