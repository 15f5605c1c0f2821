// One Redis command sent to the nodes of a cluster on an operator's behalf (redis-cli's
// `--cluster call`), within what the controller can allow: nothing that undoes the topology
// it manages, nothing that holds the call open, no data wiped by accident.
import { errorMessage, forbidden, invalid, notFound } from "../errors.js";
import { withNode } from "../kvrocks/index.js";
import type { Cluster, ClusterNode, NodeRole } from "../model/index.js";
import type { OpsDeps } from "./deps.js";

export type CommandTarget = "all" | "masters" | "replicas";

export interface NodeCommandRequest {
  /** The command and its arguments, as redis-cli takes them. */
  args: string[];
  target: CommandTarget;
  /** One node only (address or id); overrides `target`. */
  node?: string;
  /** Allows FLUSHALL / FLUSHDB. */
  force: boolean;
  /** The caller holds a read-only token: only `readOnlyCommand` commands may be sent. */
  readOnly: boolean;
}

export interface NodeCommandResult {
  id: string;
  addr: string;
  shard: number;
  role: NodeRole;
  ok: boolean;
  reply?: Reply;
  error?: string;
}

export type Reply = string | number | null | Reply[] | { error: string };

/** Commands (or `COMMAND SUBCOMMAND`) that only read: a read-only token may send these. */
const READ_ONLY = new Set([
  "INFO",
  "DBSIZE",
  "PING",
  "TIME",
  "ROLE",
  "LASTSAVE",
  "CONFIG GET",
  "SLOWLOG GET",
  "SLOWLOG LEN",
  "CLIENT LIST",
  "CLIENT INFO",
  "CLIENT GETNAME",
  "MEMORY USAGE",
  "COMMAND COUNT",
  "COMMAND INFO",
  "CLUSTER INFO",
  "CLUSTER NODES",
  "CLUSTER SLOTS",
  "CLUSTER SHARDS",
  "CLUSTER KEYSLOT",
  "CLUSTER COUNTKEYSINSLOT",
  "CLUSTERX VERSION",
  "CLUSTERX MYID",
]);

/** Commands whose second word is a subcommand, for the lists above and below. */
const WITH_SUBCOMMAND = new Set([
  "CONFIG",
  "SLOWLOG",
  "CLIENT",
  "MEMORY",
  "COMMAND",
  "CLUSTER",
  "CLUSTERX",
]);

const REFUSED: Record<string, string> = {
  SLAVEOF: "replication is the controller's to set: fail over or move nodes through the API",
  REPLICAOF: "replication is the controller's to set: fail over or move nodes through the API",
  SHUTDOWN: "stopping a node is not the controller's job: stop the process",
  MONITOR: "it streams until the connection closes",
  SUBSCRIBE: "it holds the connection open",
  PSUBSCRIBE: "it holds the connection open",
  SSUBSCRIBE: "it holds the connection open",
  SYNC: "it is the replication protocol, not a command",
  PSYNC: "it is the replication protocol, not a command",
};

const DESTRUCTIVE = new Set(["FLUSHALL", "FLUSHDB"]);

/** `CONFIG GET` or `INFO`: the name the lists and the log use. */
export function commandName(args: readonly string[]): string {
  const first = (args[0] ?? "").toUpperCase();
  if (WITH_SUBCOMMAND.has(first) && args[1] !== undefined) {
    return `${first} ${args[1].toUpperCase()}`;
  }
  return first;
}

export function readOnlyCommand(args: readonly string[]): boolean {
  return READ_ONLY.has(commandName(args));
}

/** Why the command may not be sent at all (400), or null. */
export function refusal(args: readonly string[], force: boolean): string | null {
  const first = (args[0] ?? "").toUpperCase();
  const name = commandName(args);
  if (REFUSED[first]) return `${first} is refused: ${REFUSED[first]}`;
  if ((first === "CLUSTER" || first === "CLUSTERX") && !READ_ONLY.has(name)) {
    return `${name} is refused: the topology is the controller's (use its migrate, failover and sync)`;
  }
  if (DESTRUCTIVE.has(first) && !force) {
    return `${first} deletes every key on every node it reaches: send it with force to mean it`;
  }
  return null;
}

const SECRET_CONFIG = new Set(["requirepass", "masterauth"]);

const LOGGED_ARGS = 8;
const LOGGED_ARG_CHARS = 64;

/**
 * The arguments as they may be logged: AUTH's (and HELLO's) hidden, and the value after
 * requirepass / masterauth in CONFIG SET; long values cut.
 */
export function loggableArgs(args: readonly string[]): string[] {
  const first = (args[0] ?? "").toUpperCase();
  const hideAll = first === "AUTH" || first === "HELLO";
  const configSet = commandName(args) === "CONFIG SET";
  // MIGRATE ... AUTH <password> / AUTH2 <user> <password>: everything after the keyword.
  const authAt = first === "MIGRATE" ? args.findIndex((a) => /^AUTH2?$/i.test(a)) : -1;
  return args.slice(0, LOGGED_ARGS).map((arg, i) => {
    if (i > 0 && hideAll) return "******";
    if (authAt > 0 && i > authAt) return "******";
    if (configSet && i >= 3 && SECRET_CONFIG.has((args[i - 1] ?? "").toLowerCase())) {
      return "******";
    }
    return arg.length > LOGGED_ARG_CHARS ? `${arg.slice(0, LOGGED_ARG_CHARS)}...` : arg;
  });
}

/** Replies as JSON; `CONFIG GET requirepass` answers the node's password, which stays here. */
function toReply(value: unknown, args: readonly string[]): Reply {
  const reply = plain(value);
  if (commandName(args) !== "CONFIG GET" || !Array.isArray(reply)) return reply;
  return reply.map((item, i) =>
    i % 2 === 1 && typeof reply[i - 1] === "string" && SECRET_CONFIG.has(reply[i - 1] as string)
      ? "******"
      : item,
  );
}

function plain(value: unknown): Reply {
  if (value === null || value === undefined) return null;
  if (typeof value === "string" || typeof value === "number") return value;
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Error) return { error: value.message };
  return String(value);
}

interface Located {
  node: ClusterNode;
  shard: number;
}

function located(cluster: Cluster): Located[] {
  return cluster.shards.flatMap((s, shard) => s.nodes.map((node) => ({ node, shard })));
}

/** The nodes a request reaches; a named node that is not in the cluster is 404. */
export function commandTargets(cluster: Cluster, target: CommandTarget, node?: string): Located[] {
  const nodes = located(cluster);
  if (node !== undefined) {
    const found = nodes.filter((n) => n.node.addr === node || n.node.id === node);
    if (found.length === 0) throw notFound(`node ${node} is not in cluster ${cluster.name}`);
    return found.slice(0, 1);
  }
  if (target === "masters") return nodes.filter((n) => n.node.role === "master");
  if (target === "replicas") return nodes.filter((n) => n.node.role === "slave");
  return nodes;
}

/** Checks the request, then sends the command to every target at once, each within the node timeout. */
export async function sendNodeCommand(
  deps: OpsDeps,
  ns: string,
  name: string,
  request: NodeCommandRequest,
): Promise<NodeCommandResult[]> {
  if (request.args.length === 0 || request.args[0]!.trim() === "") {
    throw invalid("command: must name a command", "command");
  }
  const reason = refusal(request.args, request.force);
  if (reason) throw invalid(reason, "command");
  if (request.readOnly && !readOnlyCommand(request.args)) {
    throw forbidden(
      `this token is read-only: ${commandName(request.args)} is not a read-only command`,
    );
  }
  const { cluster } = await deps.store.getCluster(ns, name);
  const targets = commandTargets(cluster, request.target, request.node);
  const results = await Promise.all(
    targets.map(async ({ node, shard }): Promise<NodeCommandResult> => {
      const base = { id: node.id, addr: node.addr, shard, role: node.role };
      try {
        const reply = await withNode(
          node.addr,
          { password: node.password, timeoutMs: deps.nodeTimeoutMs },
          (client) => client.call(...request.args),
        );
        return { ...base, ok: true, reply: toReply(reply, request.args) };
      } catch (err) {
        return { ...base, ok: false, error: errorMessage(err) };
      }
    }),
  );
  deps.log.info(
    {
      namespace: ns,
      cluster: name,
      command: commandName(request.args),
      args: loggableArgs(request.args),
      nodes: results.length,
      failed: results.filter((r) => !r.ok).length,
    },
    "command sent to nodes",
  );
  return results;
}
