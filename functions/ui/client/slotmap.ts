// The slot map: 16384 cells on a canvas, coloured by owning shard, migrating ranges blinking
// (unless reduced motion is asked for), keyboard and mouse readout of any slot.
import { $, append, h, setText, shortList, signatures } from "./dom.js";
import {
  MIGRATING_COLOR,
  rangeOf,
  SLOT_COUNT,
  shardColor,
  slotCount,
  UNASSIGNED_COLOR,
} from "./slots.js";
import type { ClusterJson, ShardJson } from "./types.js";

const COLS = 128;
const CELL = 5;

export interface SlotMap {
  set(cluster: ClusterJson): void;
}

export function createSlotMap(canvas: HTMLCanvasElement): SlotMap {
  const g = canvas.getContext("2d");
  const owner = new Int16Array(SLOT_COUNT).fill(-1);
  const movingTo = new Int16Array(SLOT_COUNT).fill(-1);
  const reduceMotion = matchMedia("(prefers-reduced-motion: reduce)").matches;
  let cluster: ClusterJson | null = null;
  let anyMoving = false;
  let phase = 0;
  let cursor = -1;
  let hover = -1;

  function colorOf(slot: number): string {
    const o = owner[slot] ?? -1;
    if ((movingTo[slot] ?? -1) >= 0 && ((slot % COLS) + ((slot / COLS) | 0) + phase) % 2 === 0) {
      return MIGRATING_COLOR;
    }
    return o < 0 ? UNASSIGNED_COLOR : shardColor(o);
  }

  function draw(): void {
    if (!g) return;
    g.clearRect(0, 0, canvas.width, canvas.height);
    for (let row = 0; row < SLOT_COUNT / COLS; row++) {
      let start = 0;
      let color: string | null = colorOf(row * COLS);
      for (let col = 1; col <= COLS; col++) {
        const next = col < COLS ? colorOf(row * COLS + col) : null;
        if (next !== color) {
          g.fillStyle = color ?? UNASSIGNED_COLOR;
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

  function rangeText(shard: ShardJson, slot: number): string {
    for (const r of shard.slot_ranges) {
      const p = rangeOf(r);
      if (p && slot >= p.start && slot <= p.stop) return r;
    }
    return "";
  }

  function describe(slot: number): string {
    if (slot < 0 || !cluster) return "No slot selected.";
    const o = owner[slot] ?? -1;
    let text = `Slot ${slot}: `;
    const shard = cluster.shards[o];
    if (o < 0 || !shard) text += "not assigned to any shard";
    else {
      const master = shard.nodes.find((n) => n.role === "master");
      text += `shard ${o} (range ${rangeText(shard, slot)}${master ? `, master ${master.addr}` : ""})`;
    }
    if ((movingTo[slot] ?? -1) >= 0) text += `; migrating to shard ${movingTo[slot]}`;
    return text;
  }

  function readout(): void {
    setText($("#slot-readout"), describe(hover >= 0 ? hover : cursor));
  }

  function legend(c: ClusterJson): void {
    const items = c.shards.map((s, i) =>
      h(
        "li",
        null,
        h("span", { class: "swatch", style: { background: shardColor(i) } }),
        h(
          "span",
          null,
          h("strong", null, `Shard ${i}`),
          `: ${slotCount(s.slot_ranges) ?? 0} slots`,
          s.slot_ranges.length ? ` · ${shortList(s.slot_ranges, 4)}` : "",
        ),
      ),
    );
    c.shards.forEach((s, i) => {
      if (s.migrating_slot) {
        items.push(
          h(
            "li",
            { "data-migrating": "" },
            h("span", { class: "swatch migrating", style: { background: shardColor(i) } }),
            h(
              "span",
              null,
              h("strong", null, "Migrating"),
              `: ${s.migrating_slot} from shard ${i} to shard ${s.target_shard_index}`,
            ),
          ),
        );
      }
    });
    const unassigned = owner.reduce((n, o) => n + (o < 0 ? 1 : 0), 0);
    if (unassigned > 0) {
      items.push(
        h(
          "li",
          null,
          h("span", { class: "swatch", style: { background: UNASSIGNED_COLOR } }),
          h("span", null, h("strong", null, "Unassigned"), `: ${unassigned} slots`),
        ),
      );
    }
    const el = $("#slot-legend");
    if (el) {
      el.replaceChildren();
      append(el, items);
    }
    const parts = c.shards.map((s, i) => `shard ${i} owns ${slotCount(s.slot_ranges) ?? 0} slots`);
    c.shards.forEach((s, i) => {
      if (s.migrating_slot) {
        parts.push(
          `slots ${s.migrating_slot} migrating from shard ${i} to shard ${s.target_shard_index}`,
        );
      }
    });
    canvas.setAttribute("aria-label", `Slot map: ${parts.join("; ") || "no shards"}`);
  }

  function set(next: ClusterJson): void {
    const signature = JSON.stringify(
      next.shards.map((s) => [
        s.slot_ranges,
        s.migrating_slot,
        s.target_shard_index,
        s.nodes.map((n) => n.addr + n.role),
      ]),
    );
    cluster = next;
    if (signatures.get(canvas) === signature) return;
    signatures.set(canvas, signature);
    owner.fill(-1);
    movingTo.fill(-1);
    anyMoving = false;
    next.shards.forEach((s, i) => {
      for (const r of s.slot_ranges) {
        const p = rangeOf(r);
        if (p) owner.fill(i, p.start, p.stop + 1);
      }
      const m = s.migrating_slot ? rangeOf(s.migrating_slot) : null;
      if (m) {
        movingTo.fill(s.target_shard_index, m.start, m.stop + 1);
        anyMoving = true;
      }
    });
    canvas.dataset.migrating = anyMoving ? "yes" : "no";
    draw();
    legend(next);
    readout();
  }

  function slotAt(event: MouseEvent): number {
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
  const steps: Record<string, number> = {
    ArrowRight: 1,
    ArrowLeft: -1,
    ArrowDown: COLS,
    ArrowUp: -COLS,
    PageDown: COLS * 8,
    PageUp: -COLS * 8,
  };
  canvas.addEventListener("keydown", (event) => {
    let next = cursor;
    const step = steps[event.key];
    if (step !== undefined) next = cursor + step;
    else if (event.key === "Home") next = cursor - (cursor % COLS);
    else if (event.key === "End") next = cursor - (cursor % COLS) + COLS - 1;
    else return;
    event.preventDefault();
    cursor = Math.min(SLOT_COUNT - 1, Math.max(0, next));
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
}
