// One Redis command sent to the nodes of a cluster on an operator's behalf (redis-cli's
// `--cluster call`), within what the controller can allow: nothing that undoes the topology
// it manages, nothing that holds the call open, no data wiped by accident.
import { errorMessage, forbidden, invalid, notFound } from "../errors.js";
import { withNode } from "../kvrocks/index.js";
import { type Cluster, type ClusterNode, canonicalAddr, type NodeRole } from "../model/index.js";
import {
  type CommandCaller,
  commandName,
  commandVerdict,
  HIDDEN_CONFIG,
} from "./command-policy.js";
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
  /** Who asks: what they may send is `commandVerdict`'s to say (command-policy.ts). */
  caller: CommandCaller;
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

/**
 * The most a node may answer one command with (bytes on the wire): the reply, then its JSON,
 * is held whole in a process every namespace shares, and one MGET of a large key repeated
 * asks for any size. Larger answers are that node's error.
 */
export const COMMAND_REPLY_MAX_BYTES = 16 * 1024 * 1024;

const LOGGED_ARGS = 8;
const LOGGED_ARG_CHARS = 64;
const HIDDEN = "******";

/**
 * The arguments as they may be logged: AUTH's and HELLO's hidden, NAMESPACE's tokens, the
 * value after requirepass / masterauth in CONFIG SET, MIGRATE's AUTH; any stored password
 * wherever it appears (a script's text, ECHO); long values cut.
 */
export function loggableArgs(args: readonly string[], secrets: readonly string[] = []): string[] {
  return redactedArgs(args.slice(0, LOGGED_ARGS), secrets).map((shown) =>
    shown.length > LOGGED_ARG_CHARS ? `${shown.slice(0, LOGGED_ARG_CHARS)}...` : shown,
  );
}

/**
 * A command's arguments with its secrets as `******` (see `loggableArgs`): for the log, and
 * for the commands SLOWLOG recorded, which Kvrocks keeps with every argument, AUTH's too.
 */
function redactedArgs(args: readonly string[], secrets: readonly string[]): string[] {
  const first = (args[0] ?? "").toUpperCase();
  const hideAll = first === "AUTH" || first === "HELLO";
  const configSet = commandName(args) === "CONFIG SET";
  // NAMESPACE ADD|SET <namespace> <token>: the token is a password to the node.
  const namespaceToken = first === "NAMESPACE";
  // MIGRATE ... AUTH <password> / AUTH2 <user> <password>: everything after the keyword.
  const authAt = first === "MIGRATE" ? args.findIndex((a) => /^AUTH2?$/i.test(a)) : -1;
  return args.map((arg, i) => {
    if (i > 0 && hideAll) return HIDDEN;
    if (namespaceToken && i >= 3) return HIDDEN;
    if (authAt > 0 && i > authAt) return HIDDEN;
    if (configSet && i >= 3 && HIDDEN_CONFIG.has((args[i - 1] ?? "").toLowerCase())) {
      return HIDDEN;
    }
    return hideSecrets(arg, secrets);
  });
}

/** Every occurrence of a stored password in free text (a log argument, an error line). */
function hideSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join(HIDDEN);
  return out;
}

/**
 * Replies as JSON, with the node passwords kept here: `CONFIG GET requirepass` answers the
 * node's own (whatever it is), and any reply string equal to a password the cluster stores
 * is masked, for every token: an admin's script or a key holding a copy would show it in
 * clear otherwise. Errors are free text and are masked wherever a password occurs in them.
 */
export function toReply(
  value: unknown,
  args: readonly string[],
  secrets: readonly string[],
): Reply {
  const reply = masked(plain(value), secrets);
  if (commandName(args) === "SLOWLOG GET" && Array.isArray(reply)) {
    // Each entry: id, time, microseconds, [the command's arguments], client, name.
    return reply.map((entry) =>
      Array.isArray(entry) &&
      Array.isArray(entry[3]) &&
      entry[3].every((a) => typeof a === "string")
        ? entry.map((field, i) => (i === 3 ? redactedArgs(field as string[], secrets) : field))
        : entry,
    );
  }
  if (commandName(args) !== "CONFIG GET" || !Array.isArray(reply)) return reply;
  return reply.map((item, i) =>
    i % 2 === 1 &&
    typeof reply[i - 1] === "string" &&
    HIDDEN_CONFIG.has((reply[i - 1] as string).toLowerCase())
      ? HIDDEN
      : item,
  );
}

function masked(reply: Reply, secrets: readonly string[]): Reply {
  if (reply === null) return null;
  if (typeof reply === "string" || typeof reply === "number") {
    return secrets.includes(String(reply)) ? HIDDEN : reply;
  }
  if (Array.isArray(reply)) return reply.map((r) => masked(r, secrets));
  return { error: hideSecrets(reply.error, secrets) };
}

function plain(value: unknown): Reply {
  if (value === null || value === undefined) return null;
  if (typeof value === "string" || typeof value === "number") return value;
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Error) return { error: value.message };
  return String(value);
}

/**
 * The command name in ASCII capitals: ioredis rewrites the reply of a command it is handed as
 * `hgetall` (lowercase) into an object, and Kvrocks reads names in any case (ASCII only, so
 * the name the policy judged and the one the node runs stay the same command).
 */
function asSent(args: readonly string[]): string[] {
  const [name = "", ...rest] = args;
  return [name.replace(/[a-z]+/g, (w) => w.toUpperCase()), ...rest];
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
    // Stored addresses are in their one spelling already; the request's may not be.
    const addr = canonicalAddr(node);
    const found = nodes.filter((n) => n.node.addr === addr || n.node.id === node);
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
  const verdict = commandVerdict(request.args, request.caller, request.force);
  if (!verdict.allowed) {
    throw verdict.kind === "invalid"
      ? invalid(verdict.reason, "command")
      : forbidden(verdict.reason);
  }
  const { cluster } = await deps.store.getCluster(ns, name);
  // Every password the cluster stores: a node's masterauth is its master's requirepass.
  const secrets = [
    ...new Set(cluster.shards.flatMap((s) => s.nodes.map((n) => n.password))),
  ].filter((p) => p !== "");
  const targets = commandTargets(cluster, request.target, request.node);
  const results = await Promise.all(
    targets.map(async ({ node, shard }): Promise<NodeCommandResult> => {
      const base = { id: node.id, addr: node.addr, shard, role: node.role };
      try {
        const reply = await withNode(
          node.addr,
          {
            password: node.password,
            timeoutMs: deps.nodeTimeoutMs,
            maxReplyBytes: COMMAND_REPLY_MAX_BYTES,
          },
          async (client) => {
            // Asked first, as before every push: the stored address may name another
            // cluster's node (an alias such as 0.0.0.0, a hand edit, upstream's controller),
            // and the command would run there with this cluster's token.
            const id = await client.myId();
            if (id !== node.id) {
              throw new Error(
                `answers as node ${id || "(no id yet)"}, not as ${node.id}: command not sent`,
              );
            }
            return client.call(...asSent(request.args));
          },
        );
        return { ...base, ok: true, reply: toReply(reply, request.args, secrets) };
      } catch (err) {
        return { ...base, ok: false, error: hideSecrets(errorMessage(err), secrets) };
      }
    }),
  );
  deps.log.info(
    {
      namespace: ns,
      cluster: name,
      command: commandName(request.args),
      args: loggableArgs(request.args, secrets),
      nodes: results.length,
      failed: results.filter((r) => !r.ok).length,
    },
    "command sent to nodes",
  );
  return results;
}
