// The running stack answers its sibling commands (`npm run local -- kill-master`, `revive`,
// `status`, `stop`) on a loopback port recorded in stack.json.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { HOST } from "./settings.js";

export interface StackState {
  /** The stack script's own pid. */
  pid: number;
  /** Port of the control server (loopback). */
  control: number;
  api: string;
  etcd: string;
  dir: string;
  nodes: { kind: "kvrocks" | "simulator"; addrs: string[] };
  /** Every process the stack started and must stop, with its command line. */
  processes: { name: string; pid: number; cmd: string[] }[];
  startedAt: string;
}

export function readState(file: string): StackState | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as StackState;
  } catch {
    return undefined;
  }
}

export function writeState(file: string, state: StackState): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, file);
}

export function removeState(file: string): void {
  rmSync(file, { force: true });
}

export type Handler = (body: Record<string, unknown>) => Promise<unknown>;

export function startControlServer(routes: Record<string, Handler>): Promise<Server> {
  const server = createServer(async (req, res) => {
    const route = routes[`${req.method} ${req.url}`];
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (!route) return answer(404, { error: `no ${req.method} ${req.url}` });
    try {
      answer(200, { data: await route(await readJson(req)) });
    } catch (err) {
      answer(400, { error: err instanceof Error ? err.message : String(err) });
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, () => resolve(server));
  });
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of req) text += chunk;
  if (text === "") return {};
  const parsed: unknown = JSON.parse(text);
  return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
}

export async function callControl<T>(
  state: StackState,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<T> {
  const res = await fetch(`http://${HOST}:${state.control}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const json = (await res.json()) as { data?: T; error?: string };
  if (!res.ok) throw new Error(json.error ?? `control ${path}: ${res.status}`);
  return json.data as T;
}

/** The stack recorded in stack.json, if its script still runs and answers. */
export async function runningStack(file: string): Promise<StackState | undefined> {
  const state = readState(file);
  if (!state) return undefined;
  try {
    await callControl(state, "GET", "/status", undefined, 2000);
    return state;
  } catch {
    return undefined;
  }
}
