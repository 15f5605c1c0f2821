// Shared test plumbing: real clients against simulated nodes, raw sockets for bytes the
// client library would hide, and topology texts like the controller would send.

import { connect } from "node:net";
import { Redis } from "ioredis";
import type { SimNode } from "../support/kvrocks-sim/server.js";

export const A = "a".repeat(40);
export const B = "b".repeat(40);
export const C = "c".repeat(40);
export const D = "d".repeat(40);

export async function client(node: SimNode, password?: string): Promise<Redis> {
  const r = new Redis({
    host: node.host,
    port: node.port,
    protocol: 2,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    retryStrategy: () => null,
    commandTimeout: 2000,
    ...(password === undefined ? {} : { password }),
  });
  r.on("error", () => {});
  await r.connect();
  return r;
}

/** Runs a command that must fail; returns the error line as Kvrocks sent it (without '-'). */
export async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    const v = await p;
    throw new Error(`expected an error reply, got ${JSON.stringify(v)}`);
  } catch (e) {
    if (e instanceof Error && e.name === "ReplyError") return e.message;
    throw e;
  }
}

export const call = (r: Redis, ...args: (string | number)[]): Promise<unknown> =>
  r.call(String(args[0]), args.slice(1).map(String));

/** Sends raw bytes, collects everything until the server is quiet for `idleMs` or closes. */
export function raw(
  node: SimNode,
  chunks: (string | Buffer)[],
  idleMs = 150,
): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = connect(node.port, node.host);
    let data = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: data.toString("latin1"), closed });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(done, idleMs);
    };
    sock.on("data", (d) => {
      data = Buffer.concat([data, d]);
      arm();
    });
    sock.on("end", () => {
      closed = true;
      done();
    });
    sock.on("close", () => {
      closed = true;
      done();
    });
    sock.on("error", (e) => {
      closed = true;
      if ((e as NodeJS.ErrnoException).code === "ECONNRESET") done();
      else reject(e);
    });
    sock.on("connect", async () => {
      for (const c of chunks) {
        sock.write(c);
        await new Promise((r) => setTimeout(r, 5));
      }
      arm();
    });
  });
}

export const resp = (...args: string[]): string =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;

export async function waitFor<T>(
  probe: () => Promise<T> | T,
  ok: (v: T) => boolean,
  timeoutMs = 3000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out; last value: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface ShardSpec {
  id: string;
  node: SimNode;
  slots?: string;
  masterOf?: string;
}

/** The SETNODES text: masters with "-" and their slot ranges, replicas with their master. */
export function nodesText(specs: ShardSpec[]): string {
  return specs
    .map((s) => {
      const head = `${s.id} ${s.node.host} ${s.node.port}`;
      if (s.masterOf) return `${head} slave ${s.masterOf}`;
      return `${head} master -${s.slots ? ` ${s.slots}` : ""}`;
    })
    .join("\n");
}

/** Sends the same SETNODES to every node; returns the replies. */
export async function pushTopology(
  clients: Redis[],
  text: string,
  version: number,
): Promise<unknown[]> {
  return Promise.all(clients.map((c) => call(c, "CLUSTERX", "SETNODES", text, version)));
}

/** CLUSTER INFO as key/value pairs. */
export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0 && !line.startsWith("#")) out.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return out;
}
