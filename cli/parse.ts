// Turning command-line text into API input; anything wrong is a usage error (exit 2).
import { readFileSync } from "node:fs";
import { formatSlotRange, parseSlotRange, type SlotRange } from "../lib/slots/index.js";
import { UsageError } from "./errors.js";

export function parseIndex(text: string | undefined, what: string): number {
  if (text === undefined || !/^\d+$/.test(text.trim())) {
    throw new UsageError(`${what} must be a shard index (0, 1, ...), got "${text ?? ""}"`);
  }
  return Number(text);
}

export function parseCount(text: string | undefined, what: string): number {
  const n = Number(text);
  if (text === undefined || !Number.isInteger(n) || n < 1) {
    throw new UsageError(`${what} must be a whole number of at least 1, got "${text ?? ""}"`);
  }
  return n;
}

/** A whole number of at least `min`. */
export function parseAtLeast(text: string, what: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`${what} must be a whole number of at least ${min}, got "${text}"`);
  }
  return n;
}

/** `--max-range-slots`, `--speed`, `--batch-size-kb`, `--batch-rate-limit-mb` → body fields. */
export function parsePace(opts: {
  maxRangeSlots?: string;
  speed?: string;
  batchSizeKb?: string;
  batchRateLimitMb?: string;
}): {
  max_range_slots?: number;
  speed?: number;
  batch_size_kb?: number;
  batch_rate_limit_mb?: number;
} {
  return {
    ...(opts.maxRangeSlots !== undefined
      ? { max_range_slots: parseAtLeast(opts.maxRangeSlots, "--max-range-slots", 1) }
      : {}),
    ...(opts.speed !== undefined ? { speed: parseAtLeast(opts.speed, "--speed", 0) } : {}),
    ...(opts.batchSizeKb !== undefined
      ? { batch_size_kb: parseAtLeast(opts.batchSizeKb, "--batch-size-kb", 1) }
      : {}),
    ...(opts.batchRateLimitMb !== undefined
      ? { batch_rate_limit_mb: parseAtLeast(opts.batchRateLimitMb, "--batch-rate-limit-mb", 0) }
      : {}),
  };
}

/** `"0-4095,8192"` → ranges, each checked (`N` or `A-B`, 0..16383). */
export function parseSlots(text: string | undefined, what: string): SlotRange[] {
  const parts = (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (parts.length === 0) throw new UsageError(`${what}: no slots given (e.g. 100, 0-4095,8192)`);
  return parts.map((part) => {
    try {
      return parseSlotRange(part);
    } catch (err) {
      throw new UsageError(`${what}: ${(err as Error).message}`);
    }
  });
}

export const slotTexts = (ranges: readonly SlotRange[]): string[] => ranges.map(formatSlotRange);

/** `a:1,b:2` or a repeated flag's values → addresses, blanks dropped. */
export function parseNodes(values: string | readonly string[] | undefined): string[] {
  const list = typeof values === "string" ? [values] : (values ?? []);
  return list
    .flatMap((v) => v.split(/[,\s]+/))
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** The seed's nodes file: addresses one per line (commas and spaces also split; # comments). */
export function readNodesFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read nodes file ${path}: ${(err as Error).message}`);
  }
  return parseNodes(text.split("\n").map((line) => line.replace(/#.*$/, "")));
}

/** Nodes from `-n a,b` or `-c FILE`, exactly one of them. */
export function nodesFromFlags(nodes: string | undefined, file: string | undefined): string[] {
  if (nodes !== undefined && file !== undefined) {
    throw new UsageError("give the nodes with -n or with -c FILE, not both");
  }
  const list = file !== undefined ? readNodesFile(file) : parseNodes(nodes);
  if (list.length === 0) {
    throw new UsageError("no nodes: give them with -n host:port,host:port or -c FILE");
  }
  return list;
}

/** A node as the API takes it: `host:port`, or the address with its zone beside it. */
export type NodeInputJson = string | { addr: string; zone: string };

/**
 * `host:port@zone` -> `{ addr, zone }`; a bare `host:port` stays a string, the shape upstream's
 * controller reads. The zone is checked by the controller (the 400 names the field).
 */
export function nodeInput(text: string, zone?: string): NodeInputJson {
  const at = text.lastIndexOf("@");
  const addr = at === -1 ? text : text.slice(0, at);
  const given = at === -1 ? zone : text.slice(at + 1);
  if (given === "") throw new UsageError(`${text}: nothing after '@' (host:port@zone)`);
  return given === undefined ? addr : { addr, zone: given };
}

export const nodeInputs = (list: readonly string[]): NodeInputJson[] =>
  list.map((n) => nodeInput(n));

/** The address part of `host:port[@zone]`. */
export const addrOf = (text: string): string => {
  const at = text.lastIndexOf("@");
  return at === -1 ? text : text.slice(0, at);
};
