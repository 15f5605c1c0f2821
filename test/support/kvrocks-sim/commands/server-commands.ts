// Connection and server commands: AUTH, HELLO, PING, INFO, ROLE, CLIENT, DBSIZE, KEYS, ...
// Replies and error texts follow Kvrocks's cmd_server.cc.

import { parseCInt } from "../c-int.js";
import { CommandError, errorOf } from "../errors.js";
import { infoText, REDIS_VERSION } from "../info.js";
import {
  arrayReply,
  bulkArray,
  bulkString,
  integerReply,
  nullArray,
  nullBulk,
  simpleString,
} from "../resp.js";
import { fromBinaryKey, slotOfBinaryKey, toBinaryKey } from "../store.js";
import { type CommandContext, type CommandSpec, lower } from "./types.js";

const OK = () => simpleString("OK");

function authenticate(ctx: CommandContext, password: string): void {
  const required = ctx.node.config.password;
  if (required === "") throw errorOf("Client sent AUTH, but no password is set");
  if (password !== required) throw errorOf("Invalid password");
  ctx.session.authenticated = true;
  ctx.session.admin = true;
}

const auth: CommandSpec = {
  name: "auth",
  arity: 2,
  okLoading: true,
  prepare: (ctx) => () => {
    authenticate(ctx, ctx.argv[1]!);
    return OK();
  },
};

const hello: CommandSpec = {
  name: "hello",
  arity: -1,
  okLoading: true,
  prepare: (ctx) => () => {
    const a = ctx.argv;
    let next = 1;
    if (a.length >= 2) {
      const proto = parseCInt(a[next++]!, "int32");
      if (!proto.ok) throw errorOf("Protocol version is not an integer or out of range");
      if (proto.value < 2n || proto.value > 3n) {
        throw new CommandError("NOPROTO", "unsupported protocol version");
      }
    }
    for (; next < a.length; next++) {
      const more = a.length - next - 1;
      const opt = a[next]!;
      if (lower(opt) === "auth" && more !== 0) {
        if (more === 2 || more === 4) {
          if (a[next + 1] !== "default") throw errorOf("Invalid password");
          next++;
        }
        authenticate(ctx, a[next + 1]!);
        next++;
      } else if (lower(opt) === "setname" && more !== 0) {
        ctx.session.name = a[next + 1]!;
        next++;
      } else {
        throw errorOf(`Syntax error in HELLO option ${opt}`);
      }
    }
    // resp3-enabled is off by default: whatever was asked, the answer is RESP2, proto 2.
    return arrayReply([
      bulkString("server"),
      bulkString("redis"),
      bulkString("version"),
      bulkString(REDIS_VERSION),
      bulkString("proto"),
      integerReply(2),
      bulkString("mode"),
      bulkString(ctx.node.config.clusterEnabled ? "cluster" : "standalone"),
      bulkString("role"),
      bulkString(ctx.node.isSlave() ? "slave" : "master"),
      bulkString("modules"),
      nullArray(),
    ]);
  },
};

const ping: CommandSpec = {
  name: "ping",
  arity: -1,
  prepare: (ctx) => () => {
    if (ctx.args.length === 1) return simpleString("PONG");
    if (ctx.args.length === 2) return bulkString(ctx.args[1]!);
    throw errorOf("wrong number of arguments");
  },
};

const info: CommandSpec = {
  name: "info",
  arity: -1,
  okLoading: true,
  prepare: (ctx) => () => {
    if (ctx.argv.length > 2) throw errorOf("syntax error");
    const section = ctx.argv.length === 2 ? lower(ctx.argv[1]) : "all";
    return bulkString(infoText(ctx.node, section));
  },
};

const role: CommandSpec = {
  name: "role",
  arity: 1,
  okLoading: true,
  prepare: (ctx) => () => {
    const node = ctx.node;
    const seq = String(node.store.sequence);
    if (node.isSlave()) {
      const state = node.repl.attachedTo
        ? "connected"
        : node.faults.fullSync
          ? "sync"
          : "connecting";
      return bulkArray(["slave", node.repl.masterHost, String(node.repl.masterPort), state, seq]);
    }
    const replicas = node.replicas.map((r) =>
      bulkArray([r.config.host, String(r.config.port), String(r.store.sequence)]),
    );
    const head = [bulkString("master"), bulkString(seq)];
    return arrayReply(replicas.length > 0 ? [...head, arrayReply(replicas)] : head);
  },
};

const CLIENT_SYNTAX = "Syntax error, try CLIENT LIST|INFO|KILL ip:port|GETNAME|SETNAME";

/** CLIENT ID / GETNAME / SETNAME; LIST, INFO and KILL are not simulated. */
const client: CommandSpec = {
  name: "client",
  arity: -2,
  prepare: (ctx) => {
    const sub = lower(ctx.argv[1]);
    const n = ctx.argv.length;
    if (sub === "id" && n === 2) return () => integerReply(ctx.session.id);
    if (sub === "getname" && n === 2) {
      return () => (ctx.session.name === "" ? nullBulk() : bulkString(ctx.session.name));
    }
    if (sub === "setname" && n === 3) {
      for (const ch of ctx.args[2]!) {
        if (ch < 0x21 || ch > 0x7e) {
          throw errorOf("Client names cannot contain spaces, newlines or special characters");
        }
      }
      return () => {
        ctx.session.name = ctx.argv[2]!;
        return OK();
      };
    }
    throw errorOf(CLIENT_SYNTAX);
  },
};

const quit: CommandSpec = {
  name: "quit",
  arity: 1,
  prepare: (ctx) => () => {
    ctx.session.closeAfterReply = true;
    return OK();
  },
};

const select: CommandSpec = { name: "select", arity: 2, prepare: () => OK };
const echo: CommandSpec = {
  name: "echo",
  arity: 2,
  prepare: (ctx) => () => bulkString(ctx.args[1]!),
};

const time: CommandSpec = {
  name: "time",
  arity: 1,
  okLoading: true,
  prepare: () => () => {
    const us = BigInt(Date.now()) * 1000n;
    return bulkArray([String(us / 1000000n), String(us % 1000000n)]);
  },
};

/** Kvrocks answers the count of the last DBSIZE SCAN (0 before any), not the live count. */
const dbsize: CommandSpec = {
  name: "dbsize",
  arity: -1,
  prepare: (ctx) => () => {
    const store = ctx.node.store;
    if (ctx.argv.length === 1) return integerReply(store.cachedKeyCount.keys);
    if (ctx.argv.length === 2 && lower(ctx.argv[1]) === "scan") {
      store.scanKeyCount();
      return OK();
    }
    throw errorOf("DBSIZE subcommand only supports scan");
  },
};

const keys: CommandSpec = {
  name: "keys",
  arity: 2,
  prepare: (ctx) => () => {
    const pattern = ctx.args[1]!;
    const star = pattern.indexOf(0x2a);
    if (pattern.length === 0 || star !== pattern.length - 1) {
      throw errorOf("only keys prefix match was supported");
    }
    const prefix = toBinaryKey(pattern.subarray(0, star));
    const found = ctx.node.store.keys().filter((k) => k.startsWith(prefix));
    // Kvrocks's MultiBulkString turns an empty string into a nil.
    return arrayReply(found.map((k) => bulkString(k === "" ? null : fromBinaryKey(k))));
  },
};

const slaveof: CommandSpec = {
  name: "slaveof",
  arity: 3,
  prepare: (ctx) => {
    const host = ctx.argv[1]!;
    const noOne = lower(host) === "no" && lower(ctx.argv[2]) === "one";
    const port = noOne ? { ok: true as const, value: 0n } : parseCInt(ctx.argv[2]!, "uint32");
    if (!port.ok) throw errorOf("port should be number");
    return () => {
      const node = ctx.node;
      if (node.config.clusterEnabled) throw errorOf("can't change to slave in cluster mode");
      if (!ctx.session.admin) throw errorOf("admin permission required to perform the command");
      if (noOne) {
        node.removeMaster();
        return OK();
      }
      const p = Number(port.value);
      if (p === node.config.port && host === node.config.host) {
        throw errorOf("can't replicate itself");
      }
      node.addMaster(host, p);
      return OK();
    };
  },
};

/** A few settings, as `CONFIG GET` names them; `CONFIG SET` changes the plain ones. */
function settings(ctx: CommandContext): Map<string, string> {
  const c = ctx.node.config;
  return new Map([
    ["bind", c.host],
    ["port", String(c.port)],
    ["cluster-enabled", c.clusterEnabled ? "yes" : "no"],
    ["requirepass", c.password],
    ["masterauth", ctx.node.settings.get("masterauth") ?? c.password],
    ["maxclients", ctx.node.settings.get("maxclients") ?? "10240"],
    ["timeout", ctx.node.settings.get("timeout") ?? "0"],
    ["slowlog-log-slower-than", ctx.node.settings.get("slowlog-log-slower-than") ?? "200000"],
    // Kvrocks 2.10.1's migration settings and defaults (CONFIG GET on the binary).
    ...MIGRATE_SETTINGS.map(
      ([name, fallback]) => [name, ctx.node.settings.get(name) ?? fallback] as [string, string],
    ),
  ]);
}

/** Name, default, lowest value CONFIG SET takes (Kvrocks 2.10.1; highest 2^31-1). */
const MIGRATE_SETTINGS: [string, string, number][] = [
  ["migrate-speed", "4096", 0],
  ["migrate-batch-size-kb", "16", 1],
  ["migrate-batch-rate-limit-mb", "16", 0],
  ["migrate-pipeline-size", "16", 1],
  ["migrate-sequence-gap", "10000", 1],
];

/** `CONFIG GET pattern` (`*` as in Kvrocks's glob) and `CONFIG SET name value`, admin only. */
const config: CommandSpec = {
  name: "config",
  arity: -2,
  prepare: (ctx) => () => {
    if (!ctx.session.admin && ctx.node.config.password !== "") {
      throw errorOf("admin permission required to perform the command");
    }
    const sub = lower(ctx.argv[1]);
    if (sub === "get" && ctx.argv.length === 3) {
      // Kvrocks 2.10.1 answers an exact name or `*`; a glob such as `migrate-*` finds nothing.
      const wanted = lower(ctx.argv[2]);
      const found = [...settings(ctx)].filter(([name]) => wanted === "*" || name === wanted);
      return bulkArray(found.flat());
    }
    if (sub === "set" && ctx.argv.length === 4) {
      const name = lower(ctx.argv[2]);
      if (!settings(ctx).has(name)) throw errorOf(`no such configuration: ${ctx.argv[2]}`);
      // requirepass as Kvrocks takes it: new connections must AUTH with it; the ones already
      // authenticated (or opened while there was none) stay so.
      if (name === "requirepass") {
        // masterauth was the start-up password until set on its own (as test nodes start).
        if (!ctx.node.settings.has("masterauth"))
          ctx.node.settings.set("masterauth", ctx.node.config.password);
        ctx.node.config.password = ctx.argv[3]!;
        return OK();
      }
      // masterauth as Kvrocks takes it: used when the replica next (re)connects to its master;
      // a link already up stays up.
      if (name === "masterauth") {
        ctx.node.settings.set("masterauth", ctx.argv[3]!);
        return OK();
      }
      const migrate = MIGRATE_SETTINGS.find(([n]) => n === name);
      if (migrate) {
        const raw = ctx.argv[3]!;
        if (!/^-?\d+$/.test(raw)) {
          throw errorOf(
            `CONFIG SET '${name}' error: failed to set new value: not started as an integer`,
          );
        }
        const value = Number(raw);
        if (value > 2147483647 || value < -2147483648) {
          throw errorOf(
            `CONFIG SET '${name}' error: failed to set new value: out of range of integer type`,
          );
        }
        if (value < migrate[2]) {
          throw errorOf(
            `CONFIG SET '${name}' error: failed to set new value: out of numeric range`,
          );
        }
        ctx.node.settings.set(name, String(value));
        return OK();
      }
      if (!["maxclients", "timeout", "slowlog-log-slower-than"].includes(name)) {
        throw errorOf(`Unsupported CONFIG parameter: ${ctx.argv[2]}`);
      }
      ctx.node.settings.set(name, ctx.argv[3]!);
      return OK();
    }
    // The simulator keeps no config file: nothing to rewrite, as a node whose file is current.
    if (sub === "rewrite" && ctx.argv.length === 2) return OK();
    throw errorOf("CONFIG subcommand must be one of GET, SET, REWRITE");
  },
};

const flag =
  (set: (ctx: CommandContext) => void): CommandSpec["prepare"] =>
  (ctx) =>
  () => {
    set(ctx);
    return OK();
  };

const readonly: CommandSpec = {
  name: "readonly",
  arity: 1,
  prepare: flag((c) => {
    c.session.readonly = true;
  }),
};
const readwrite: CommandSpec = {
  name: "readwrite",
  arity: 1,
  prepare: flag((c) => {
    c.session.readonly = false;
  }),
};
const asking: CommandSpec = {
  name: "asking",
  arity: 1,
  prepare: flag((c) => {
    c.session.asking = true;
  }),
};

/** Kvrocks's cursor dictionary: the number it answers stands for the last key returned. */
const scanCursors = new WeakMap<object, Map<string, string>>();
let nextCursor = 1;

/**
 * SCAN as Kvrocks 2.10 in cluster mode (`redis-cursor-compatible yes`, the default): keys come
 * in storage order, which is slot order (each key is stored behind its slot), then by bytes;
 * the cursor is a number standing for the last key returned, `0` once a page came back short.
 * MATCH takes a prefix only.
 */
const scan: CommandSpec = {
  name: "scan",
  arity: -2,
  prepare: (ctx) => () => {
    const a = ctx.argv;
    let prefix = "";
    let limit = 20;
    for (let i = 2; i < a.length; i += 2) {
      const opt = lower(a[i]);
      const value = a[i + 1];
      if (value === undefined) throw errorOf("syntax error");
      if (opt === "match") {
        if (!value.endsWith("*")) throw errorOf("currently only key prefix matching is supported");
        prefix = toBinaryKey(ctx.args[i + 1]!.subarray(0, ctx.args[i + 1]!.length - 1));
      } else if (opt === "count") {
        const n = parseCInt(value, "int32");
        if (!n.ok) throw errorOf("value is not an integer or out of range");
        if (n.value <= 0n) throw errorOf("limit should be a positive integer");
        limit = Number(n.value);
      } else {
        throw errorOf("syntax error");
      }
    }
    let cursors = scanCursors.get(ctx.node);
    if (!cursors) {
      cursors = new Map();
      scanCursors.set(ctx.node, cursors);
    }
    const after = a[1] === "0" ? null : (cursors.get(a[1]!) ?? null);
    const all = ctx.node.store.keys().filter((k) => k.startsWith(prefix));
    // Storage order: slot, then bytes (the cursor's key may be gone since).
    const cmp = (x: string, y: string) =>
      slotOfBinaryKey(x) - slotOfBinaryKey(y) || Buffer.compare(fromBinaryKey(x), fromBinaryKey(y));
    const from = after === null ? 0 : all.findIndex((k) => cmp(k, after) > 0);
    const page = from < 0 ? [] : all.slice(from, from + limit);
    let cursor = "0";
    if (page.length === limit) {
      cursor = String(nextCursor++);
      cursors.set(cursor, page.at(-1)!);
    }
    return arrayReply([
      bulkString(cursor),
      arrayReply(page.map((k) => bulkString(fromBinaryKey(k)))),
    ]);
  },
};

/** `SLOWLOG GET [n]` (default 10, newest first), `LEN`, `RESET`, as Kvrocks answers them. */
const slowlog: CommandSpec = {
  name: "slowlog",
  arity: -2,
  prepare: (ctx) => () => {
    const log = ctx.node.slowlog;
    const sub = lower(ctx.argv[1]!);
    if (sub === "reset") {
      log.entries.length = 0;
      return OK();
    }
    if (sub === "len") return integerReply(log.entries.length);
    if (sub === "get") {
      const n = ctx.argv[2] === undefined ? 10 : Number(ctx.argv[2]);
      return arrayReply(
        log.entries
          .slice(0, n < 0 ? undefined : n)
          .map((e) =>
            arrayReply([
              integerReply(e.id),
              integerReply(e.unixSeconds),
              integerReply(e.micros),
              bulkArray(e.args),
              bulkString(""),
              bulkString(""),
            ]),
          ),
      );
    }
    throw errorOf("SLOWLOG subcommand must be one of GET, LEN, RESET");
  },
};

export const serverCommands: CommandSpec[] = [
  slowlog,
  auth,
  hello,
  ping,
  info,
  role,
  client,
  quit,
  select,
  echo,
  time,
  dbsize,
  keys,
  scan,
  slaveof,
  readonly,
  readwrite,
  asking,
  config,
];
