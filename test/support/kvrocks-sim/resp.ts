// RESP2 request parsing and reply encoding, following Kvrocks's request tokenizer: a line
// starting with '*' opens a multibulk of '$' bulk strings; any other line is an inline
// command split on spaces and tabs (no quoting, as Kvrocks). Input may arrive in any
// fragments, and several commands may come in one packet.

import { parseCInt } from "./c-int.js";

export type RequestArgs = Buffer[];

export interface ParseResult {
  commands: RequestArgs[];
  /** Set when the stream is malformed; Kvrocks answers it and closes the connection. */
  error: string | null;
}

const INLINE_MAX = 16 * 1024;
const MULTIBULK_MAX = 1024 * 1024;
const BULK_MAX = 512 * 1024 * 1024;
const LF = 0x0a;
const CR = 0x0d;

type State = "arrayLen" | "bulkLen" | "bulkData";

export class RespParser {
  private buf: Buffer = Buffer.alloc(0);
  private state: State = "arrayLen";
  private remaining = 0;
  private bulkLen = 0;
  private tokens: Buffer[] = [];

  feed(chunk: Buffer): ParseResult {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const commands: RequestArgs[] = [];
    try {
      for (;;) {
        const cmd = this.step();
        if (cmd === "need-more") break;
        if (cmd !== null) commands.push(cmd);
      }
    } catch (e) {
      if (e instanceof RespProtocolError) return { commands, error: e.message };
      throw e;
    }
    return { commands, error: null };
  }

  /** One state transition: a finished command, null (progress, no command) or "need-more". */
  private step(): RequestArgs | null | "need-more" {
    if (this.state === "arrayLen") return this.readHeaderOrInline();
    if (this.state === "bulkLen") return this.readBulkLen();
    return this.readBulkData();
  }

  private takeLine(): { line: Buffer; crlf: boolean } | null {
    const lf = this.buf.indexOf(LF);
    if (lf < 0) return null;
    const crlf = lf > 0 && this.buf[lf - 1] === CR;
    const line = this.buf.subarray(0, crlf ? lf - 1 : lf);
    this.buf = this.buf.subarray(lf + 1);
    return { line, crlf };
  }

  private readHeaderOrInline(): RequestArgs | null | "need-more" {
    const taken = this.takeLine();
    if (taken === null) return "need-more";
    const { line, crlf } = taken;
    if (line.length === 0) return null;
    if (line[0] === 0x2a /* '*' */) {
      const n = parseCInt(line.subarray(1).toString("latin1"), "int64");
      if (!n.ok || !crlf || n.value > BigInt(MULTIBULK_MAX)) {
        throw new RespProtocolError("Protocol error: invalid multibulk length");
      }
      if (n.value <= 0n) return null;
      this.remaining = Number(n.value);
      this.tokens = [];
      this.state = "bulkLen";
      return null;
    }
    if (line.length > INLINE_MAX)
      throw new RespProtocolError("Protocol error: invalid bulk length");
    const tokens = splitInline(line);
    return tokens.length === 0 ? null : tokens;
  }

  private readBulkLen(): null | "need-more" {
    const end = this.buf.indexOf("\r\n");
    if (end < 0) return "need-more";
    const line = this.buf.subarray(0, end);
    this.buf = this.buf.subarray(end + 2);
    if (line.length === 0) return "need-more";
    if (line[0] !== 0x24 /* '$' */) throw new RespProtocolError("Protocol error: expected '$'");
    const n = parseCInt(line.subarray(1).toString("latin1"), "uint64");
    if (!n.ok || n.value > BigInt(BULK_MAX)) {
      throw new RespProtocolError("Protocol error: invalid bulk length");
    }
    this.bulkLen = Number(n.value);
    this.state = "bulkData";
    return null;
  }

  private readBulkData(): RequestArgs | null | "need-more" {
    if (this.buf.length < this.bulkLen + 2) return "need-more";
    // Copy: the token outlives the receive buffer it was sliced from.
    this.tokens.push(Buffer.from(this.buf.subarray(0, this.bulkLen)));
    this.buf = this.buf.subarray(this.bulkLen + 2);
    this.remaining--;
    if (this.remaining > 0) {
      this.state = "bulkLen";
      return null;
    }
    this.state = "arrayLen";
    const cmd = this.tokens;
    this.tokens = [];
    return cmd;
  }
}

export class RespProtocolError extends Error {}

function splitInline(line: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = -1;
  for (let i = 0; i <= line.length; i++) {
    const c = line[i];
    const sep = i === line.length || c === 0x20 || c === 0x09;
    if (sep) {
      if (start >= 0) out.push(Buffer.from(line.subarray(start, i)));
      start = -1;
    } else if (start < 0) {
      start = i;
    }
  }
  return out;
}

// ---- encoders ----

const CRLF = "\r\n";

export const simpleString = (s: string): Buffer => Buffer.from(`+${s}${CRLF}`);
export const errorReply = (msg: string): Buffer => Buffer.from(`-${msg}${CRLF}`);
export const integerReply = (n: number | bigint): Buffer => Buffer.from(`:${n}${CRLF}`);
export const nullBulk = (): Buffer => Buffer.from(`$-1${CRLF}`);
export const nullArray = (): Buffer => Buffer.from(`*-1${CRLF}`);

export function bulkString(v: string | Buffer | null): Buffer {
  if (v === null) return nullBulk();
  const data = typeof v === "string" ? Buffer.from(v) : v;
  return Buffer.concat([Buffer.from(`$${data.length}${CRLF}`), data, Buffer.from(CRLF)]);
}

/** An array of already encoded replies. */
export function arrayReply(items: readonly Buffer[] | null): Buffer {
  if (items === null) return nullArray();
  return Buffer.concat([Buffer.from(`*${items.length}${CRLF}`), ...items]);
}

export const bulkArray = (items: readonly (string | Buffer | null)[]): Buffer =>
  arrayReply(items.map(bulkString));
