// String key commands. The cluster routing check (MOVED, CLUSTERDOWN, ...) happens in the
// dispatcher from each spec's key positions, as Kvrocks does before Execute.

import { parseCIntInRange } from "../c-int.js";
import { errorOf } from "../errors.js";
import { arrayReply, bulkString, integerReply, nullBulk, simpleString } from "../resp.js";
import { toBinaryKey } from "../store.js";
import type { CommandContext, CommandSpec } from "./types.js";

const get: CommandSpec = {
  name: "get",
  arity: 2,
  keys: { first: 1, last: 1, step: 1 },
  prepare: (ctx) => () => {
    const e = ctx.node.store.get(toBinaryKey(ctx.args[1]!));
    if (e === undefined) {
      ctx.node.stats.keyspaceMisses++;
      return nullBulk();
    }
    ctx.node.stats.keyspaceHits++;
    return bulkString(e.value);
  },
};

const mget: CommandSpec = {
  name: "mget",
  arity: -2,
  keys: { first: 1, last: -1, step: 1 },
  prepare: (ctx) => () =>
    arrayReply(
      ctx.args.slice(1).map((k) => {
        const e = ctx.node.store.get(toBinaryKey(k));
        return e === undefined ? nullBulk() : bulkString(e.value);
      }),
    ),
};

interface SetOptions {
  expireAt: number | null;
  keepTtl: boolean;
  condition: "" | "NX" | "XX";
  get: boolean;
}

const TTL_FLAGS = ["EX", "EXAT", "PX", "PXAT"] as const;

/** Kvrocks's CommandSet::Parse: one TTL flag and one of NX/XX at most, else syntax error. */
function parseSetOptions(argv: string[]): SetOptions {
  const o: SetOptions = { expireAt: null, keepTtl: false, condition: "", get: false };
  let ttlFlag = "";
  let i = 3;
  while (i < argv.length) {
    const word = argv[i]!.toUpperCase();
    const ttl = TTL_FLAGS.find((f) => f === word);
    if (ttl && (ttlFlag === "" || ttlFlag === ttl)) {
      ttlFlag = ttl;
      i++;
      if (i >= argv.length) throw errorOf("no more item to parse");
      const n = parseCIntInRange(argv[i]!, "int64", 1, Number.MAX_SAFE_INTEGER);
      if (!n.ok) throw errorOf(n.msg);
      const v = Number(n.value);
      const now = Date.now();
      o.expireAt =
        ttl === "EX" ? now + v * 1000 : ttl === "EXAT" ? v * 1000 : ttl === "PX" ? now + v : v;
      i++;
    } else if (word === "KEEPTTL" && (ttlFlag === "" || ttlFlag === "KEEPTTL")) {
      ttlFlag = "KEEPTTL";
      o.keepTtl = true;
      i++;
    } else if ((word === "NX" || word === "XX") && (o.condition === "" || o.condition === word)) {
      o.condition = word;
      i++;
    } else if (word === "GET") {
      o.get = true;
      i++;
    } else {
      throw errorOf("syntax error");
    }
  }
  return o;
}

const set: CommandSpec = {
  name: "set",
  arity: -3,
  write: true,
  keys: { first: 1, last: 1, step: 1 },
  prepare: (ctx) => {
    const o = parseSetOptions(ctx.argv);
    return () => {
      const store = ctx.node.store;
      const key = toBinaryKey(ctx.args[1]!);
      const old = store.get(key);
      const blocked = (o.condition === "NX" && old) || (o.condition === "XX" && !old);
      if (!blocked) {
        const expireAt = o.keepTtl ? (old?.expireAt ?? 0) : (o.expireAt ?? 0);
        store.set(key, Buffer.from(ctx.args[2]!), expireAt);
      }
      if (o.get) return old ? bulkString(old.value) : nullBulk();
      return blocked ? nullBulk() : simpleString("OK");
    };
  },
};

const del: CommandSpec = {
  name: "del",
  arity: -2,
  write: true,
  keys: { first: 1, last: -1, step: 1 },
  prepare: (ctx) => () => {
    let n = 0;
    for (const k of ctx.args.slice(1)) if (ctx.node.store.del(toBinaryKey(k))) n++;
    return integerReply(n);
  },
};

/** FLUSHALL / FLUSHDB: every key goes, one replicated delete each (the simulator has one db). */
const flush = (name: string): CommandSpec => ({
  name,
  arity: -1,
  write: true,
  prepare: (ctx) => () => {
    for (const k of ctx.node.store.keys()) ctx.node.store.del(k);
    return simpleString("OK");
  },
});

const exists: CommandSpec = {
  name: "exists",
  arity: -2,
  keys: { first: 1, last: -1, step: 1 },
  prepare: (ctx: CommandContext) => () => {
    const store = ctx.node.store;
    const n = ctx.args.slice(1).filter((k) => store.get(toBinaryKey(k)) !== undefined).length;
    return integerReply(n);
  },
};

export const keyCommands: CommandSpec[] = [
  flush("flushall"),
  flush("flushdb"),
  get,
  mget,
  set,
  del,
  exists,
];
