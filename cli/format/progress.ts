// Following a task: a live bar on a terminal, one line per change otherwise.
import type { Task } from "../types.js";
import { formatDuration } from "./table.js";

export interface Progress {
  state: string;
  done: number;
  total: number;
  /** The range moving now, if known. */
  range: string | null;
  elapsedMs: number;
  /** Ranges (chunks) done and in all, when the task lists them. */
  chunks?: { done: number; total: number };
}

/** Time left at the pace so far (slots per ms since the start); null before the first range. */
export function etaMs(p: Progress): number | null {
  if (p.state !== "running" || p.done <= 0 || p.done >= p.total) return null;
  return Math.round((p.elapsedMs / p.done) * (p.total - p.done));
}

export function progressOfTask(task: Task, elapsedMs: number): Progress {
  return {
    state: task.state,
    done: task.slots_done,
    total: task.slots_total,
    range: task.in_flight,
    elapsedMs,
    ...(task.done && task.ranges.length > 1
      ? { chunks: { done: task.done.length, total: task.ranges.length } }
      : {}),
  };
}

const BAR_WIDTH = 30;

export function progressBar(label: string, p: Progress): string {
  const ratio = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
  const filled = Math.round(ratio * BAR_WIDTH);
  const bar = `${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}`;
  const slots = p.total > 0 ? `${p.done}/${p.total} slots ${Math.floor(ratio * 100)}%` : "";
  const range = p.range ? `range ${p.range}` : "";
  const chunks = p.chunks ? `${p.chunks.done}/${p.chunks.total} ranges` : "";
  const eta = etaMs(p);
  return [
    label,
    p.state,
    `[${bar}]`,
    slots,
    chunks,
    range,
    formatDuration(p.elapsedMs),
    eta === null ? "" : `ETA ${formatDuration(eta)}`,
  ]
    .filter((s) => s !== "")
    .join("  ");
}

export function progressLine(label: string, p: Progress): string {
  const parts = [`${label}: ${p.state}`];
  if (p.total > 0) {
    parts.push(`${p.done}/${p.total} slots (${Math.floor((p.done / p.total) * 100)}%)`);
  }
  if (p.chunks) parts.push(`${p.chunks.done}/${p.chunks.total} ranges`);
  if (p.range) parts.push(`range ${p.range}`);
  parts.push(`elapsed ${formatDuration(p.elapsedMs)}`);
  const eta = etaMs(p);
  if (eta !== null) parts.push(`ETA ${formatDuration(eta)}`);
  return parts.join(", ");
}

interface Sink {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** Writes progress to `sink`: redraws one line on a TTY, prints changed states otherwise. */
export class ProgressReporter {
  private last = "";
  private drawn = false;

  constructor(
    private readonly sink: Sink,
    private readonly label: string,
    private readonly live = Boolean(sink.isTTY),
  ) {}

  update(p: Progress): void {
    if (this.live) {
      this.sink.write(`\r\x1b[2K${progressBar(this.label, p)}`);
      this.drawn = true;
      return;
    }
    // Elapsed time changes every poll; only print when something else did.
    const key = `${p.state}|${p.done}|${p.total}|${p.range}`;
    if (key === this.last) return;
    this.last = key;
    this.sink.write(`${progressLine(this.label, p)}\n`);
  }

  /** Ends the live line so what follows starts on a fresh one. */
  finish(): void {
    if (this.live && this.drawn) this.sink.write("\n");
    this.drawn = false;
  }
}
