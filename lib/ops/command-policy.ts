// Which token may send which command to a cluster's nodes: the one table and the one pure
// function the commands route asks. An allowlist: a command not named here may be sent by
// an admin token for every namespace only, since the controller talks to the nodes with their
// requirepass, and anything it relays runs with the node's full authority (a script can read
// CONFIG GET requirepass, which is usually the same password across the fleet).
import { mayManageNamespaces, mayWrite, type Principal } from "../tokens.js";

/**
 * admin: an admin token for every namespace (or the open API); write: a token that may change
 * the namespace's clusters (a namespace token, a write token, an admin limited to namespaces);
 * read: a token that may only look.
 */
export type CommandCaller = "admin" | "write" | "read";

export function commandCaller(p: Principal, namespace: string): CommandCaller {
  if (mayManageNamespaces(p)) return "admin";
  return mayWrite(p, namespace) ? "write" : "read";
}

/**
 * meta: reads what the node is and how it runs, never data: any token.
 * data: reads and changes keys: tokens that may change the namespace.
 * admin: only the admin, with the reason shown to the others.
 * refused: nobody (400): it would undo what the controller manages or hold the call open.
 */
type Rule =
  | { kind: "meta" }
  | { kind: "data" }
  | { kind: "admin"; why: string }
  | { kind: "refused"; why: string };

const meta: Rule = { kind: "meta" };
const data: Rule = { kind: "data" };
const admin = (why: string): Rule => ({ kind: "admin", why });
const refused = (why: string): Rule => ({ kind: "refused", why });

const SCRIPT = admin(
  "a script runs any command with the node's password, CONFIG GET requirepass included",
);
const REPLICATION = refused(
  "replication is the controller's to set: fail over or move nodes through the API",
);
const HOLDS = refused("it holds the connection open");
const PROTOCOL = refused("it is the replication protocol, not a command");

/** Commands whose second word is a subcommand: the table names them `CONFIG GET`. */
const WITH_SUBCOMMAND = new Set([
  "CONFIG",
  "SLOWLOG",
  "CLIENT",
  "MEMORY",
  "COMMAND",
  "CLUSTER",
  "CLUSTERX",
  "XINFO",
]);

const words = (list: string, rule: Rule): [string, Rule][] =>
  list
    .split(/\s*,\s*/)
    .filter((w) => w !== "")
    .map((w) => [w, rule]);

/**
 * By name (`GET`, `CONFIG GET`). Kvrocks 2.10.1 answers `CLUSTER COUNTKEYSINSLOT` and
 * `CLUSTER SHARDS` with an error; they are listed as the reads they are, so every token gets
 * the node's own answer rather than a refusal that depends on the version.
 */
const RULES = new Map<string, Rule>([
  ...words(
    "INFO, DBSIZE, PING, ECHO, TIME, ROLE, LASTSAVE, CONFIG GET, SLOWLOG GET, SLOWLOG LEN, " +
      "CLIENT LIST, CLIENT INFO, CLIENT GETNAME, CLIENT ID, MEMORY USAGE, COMMAND COUNT, " +
      "COMMAND INFO, COMMAND DOCS, CLUSTER INFO, CLUSTER NODES, CLUSTER SLOTS, CLUSTER SHARDS, " +
      "CLUSTER KEYSLOT, CLUSTER COUNTKEYSINSLOT, CLUSTER MYID, CLUSTERX VERSION, CLUSTERX MYID",
    meta,
  ),
  // Keys and values: reads first, then writes. Blocking forms (BLPOP, XREAD BLOCK, ...) are
  // left out: the call waits for the node timeout instead of answering.
  ...words(
    "SCAN, TYPE, TTL, PTTL, EXPIRETIME, PEXPIRETIME, EXISTS, OBJECT, RANDOMKEY, " +
      "GET, MGET, STRLEN, GETRANGE, SUBSTR, GETBIT, BITCOUNT, BITPOS, BITFIELD_RO, " +
      "HGET, HMGET, HGETALL, HKEYS, HVALS, HLEN, HEXISTS, HSTRLEN, HSCAN, HRANDFIELD, " +
      "LRANGE, LLEN, LINDEX, LPOS, " +
      "SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SRANDMEMBER, SSCAN, SINTER, SUNION, SDIFF, " +
      "SINTERCARD, " +
      "ZRANGE, ZRANGEBYSCORE, ZREVRANGE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX, " +
      "ZCARD, ZCOUNT, ZLEXCOUNT, ZSCORE, ZMSCORE, ZRANK, ZREVRANK, ZSCAN, ZRANDMEMBER, " +
      "ZUNION, ZINTER, ZDIFF, ZINTERCARD, " +
      "PFCOUNT, GEOPOS, GEODIST, GEOHASH, GEOSEARCH, GEORADIUS_RO, GEORADIUSBYMEMBER_RO, " +
      "XRANGE, XREVRANGE, XLEN, XINFO STREAM, " +
      "JSON.GET, JSON.MGET, JSON.TYPE, JSON.STRLEN, JSON.ARRLEN, JSON.OBJKEYS, JSON.OBJLEN, " +
      "BF.EXISTS, BF.MEXISTS, BF.INFO, BF.CARD",
    data,
  ),
  ...words(
    "SET, SETNX, SETEX, PSETEX, MSET, MSETNX, GETSET, GETDEL, GETEX, APPEND, SETRANGE, " +
      "INCR, INCRBY, INCRBYFLOAT, DECR, DECRBY, SETBIT, BITFIELD, BITOP, " +
      "DEL, UNLINK, EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, PERSIST, RENAME, RENAMENX, COPY, " +
      "HSET, HSETNX, HMSET, HDEL, HINCRBY, HINCRBYFLOAT, " +
      "LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LSET, LINSERT, LREM, LTRIM, LMOVE, RPOPLPUSH, " +
      "SADD, SREM, SPOP, SMOVE, SINTERSTORE, SUNIONSTORE, SDIFFSTORE, " +
      "ZADD, ZREM, ZINCRBY, ZPOPMIN, ZPOPMAX, ZREMRANGEBYSCORE, ZREMRANGEBYRANK, " +
      "ZREMRANGEBYLEX, ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE, ZRANGESTORE, " +
      "PFADD, PFMERGE, GEOADD, XADD, XDEL, XTRIM, " +
      "JSON.SET, JSON.DEL, JSON.FORGET, JSON.CLEAR, JSON.ARRAPPEND, JSON.ARRINSERT, " +
      "JSON.ARRPOP, JSON.ARRTRIM, JSON.NUMINCRBY, JSON.STRAPPEND, JSON.TOGGLE, JSON.MERGE, " +
      "BF.ADD, BF.MADD, BF.RESERVE, BF.INSERT",
    data,
  ),
  // Admin only, with the reason: the ones a review found run for any token.
  ...words("EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, FCALL, FCALL_RO, FUNCTION, SCRIPT", SCRIPT),
  ["DEBUG", admin("it can stall the node (DEBUG SLEEP) or crash it")],
  [
    "NAMESPACE",
    admin("it reads and sets Kvrocks namespace tokens, which are passwords to the node"),
  ],
  ...words(
    "CONFIG SET, CONFIG REWRITE, CONFIG RESETSTAT",
    admin("it changes the node's configuration for everyone it serves"),
  ),
  [
    "CLIENT KILL",
    admin("it cuts other clients' connections, the controller's and the probe's included"),
  ],
  ["KEYS", admin("it walks every key at once and stalls the node: use SCAN")],
  ...words(
    "FLUSHALL, FLUSHDB",
    admin("it deletes every key on every node it reaches (and needs force)"),
  ),
  // Nobody: these undo the controller's work or hold the call open.
  ["SLAVEOF", REPLICATION],
  ["REPLICAOF", REPLICATION],
  ["SHUTDOWN", refused("stopping a node is not the controller's job: stop the process")],
  ["MONITOR", refused("it streams until the connection closes")],
  ...words("SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE", HOLDS),
  ...words("SYNC, PSYNC", PROTOCOL),
]);

const DESTRUCTIVE = new Set(["FLUSHALL", "FLUSHDB"]);

/** Node settings the controller needs to keep: the password it stores for the node. */
export const SECRET_CONFIG = new Set(["requirepass", "masterauth"]);

/**
 * Node settings `CONFIG GET` answers as `******` and whose `CONFIG SET` value is never logged:
 * the passwords, and the passphrase of the TLS key (a Kvrocks built with OpenSSL has it).
 */
export const HIDDEN_CONFIG = new Set([...SECRET_CONFIG, "tls-key-file-pass"]);

/** `CONFIG GET` or `INFO`: the name the table and the log use. */
export function commandName(args: readonly string[]): string {
  const first = (args[0] ?? "").toUpperCase();
  if (WITH_SUBCOMMAND.has(first) && args[1] !== undefined) {
    return `${first} ${args[1].toUpperCase()}`;
  }
  return first;
}

export type CommandVerdict =
  | { allowed: true }
  /** invalid: 400 with field `command`; forbidden: 403. */
  | { allowed: false; kind: "invalid" | "forbidden"; reason: string };

const refuse = (kind: "invalid" | "forbidden", reason: string): CommandVerdict => ({
  allowed: false,
  kind,
  reason,
});

/** Whether `caller` may send `args` (with `force`), and if not, why. */
export function commandVerdict(
  args: readonly string[],
  caller: CommandCaller,
  force: boolean,
): CommandVerdict {
  if (args.length === 0 || args[0]!.trim() === "") {
    return refuse("invalid", "command: must name a command");
  }
  const first = args[0]!.toUpperCase();
  const name = commandName(args);
  const rule = RULES.get(name) ?? RULES.get(first);
  if (rule?.kind === "refused") return refuse("invalid", `${first} is refused: ${rule.why}`);
  if ((first === "CLUSTER" || first === "CLUSTERX") && rule?.kind !== "meta") {
    return refuse(
      "invalid",
      `${name} is refused: the topology is the controller's (use its migrate, failover and sync)`,
    );
  }
  // The controller keeps each node's password in etcd and authenticates with it: a node whose
  // password changed under it can no longer be probed, failed over or repaired. For every
  // token, force or not.
  if (name === "CONFIG SET") {
    const secret = args.find((a, i) => i >= 2 && i % 2 === 0 && SECRET_CONFIG.has(a.toLowerCase()));
    if (secret !== undefined) {
      return refuse(
        "forbidden",
        `CONFIG SET ${secret.toLowerCase()} is refused for every token: the controller keeps this ` +
          "password to manage the node, and a node whose password changed under it becomes " +
          "unmanageable; rotate it with `kvctl set password` (PUT .../clusters/{cluster}/password), " +
          "which sets every node in an order that keeps replication up and stores the new one",
      );
    }
  }
  const needs = rule?.kind ?? "admin";
  const why =
    rule?.kind === "admin"
      ? rule.why
      : "it is not among the read and data commands other tokens may send";
  if (caller === "read" && needs !== "meta") {
    return refuse(
      "forbidden",
      needs === "data"
        ? `this token is read-only: ${name} is not a read-only command`
        : `this token is read-only: ${name} is not a read-only command (only an admin token may send it: ${why})`,
    );
  }
  if (caller === "write" && needs === "admin") {
    return refuse("forbidden", `${name}: only an admin token may send it (${why})`);
  }
  if (DESTRUCTIVE.has(first) && !force) {
    return refuse(
      "invalid",
      `${first} deletes every key on every node it reaches: send it with force to mean it`,
    );
  }
  return { allowed: true };
}
