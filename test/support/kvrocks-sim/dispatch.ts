// One request through Kvrocks's Connection::ExecuteCommands, checks in its order: unknown
// command, authentication, loading, arity, argument parsing, cluster routing, replica
// read-only, then execution. Every failure becomes the same error line Kvrocks sends.

import { clusterCommands } from "./commands/cluster-commands.js";
import { keyCommands } from "./commands/key-commands.js";
import { serverCommands } from "./commands/server-commands.js";
import type { CommandContext, CommandSpec, KeySpec, Reply } from "./commands/types.js";
import { CommandError } from "./errors.js";
import type { KvrocksNode } from "./node.js";
import { countRecentCommand } from "./ops-meter.js";
import { errorReply } from "./resp.js";
import type { Session } from "./session.js";

const COMMANDS = new Map<string, CommandSpec>(
  [...serverCommands, ...clusterCommands, ...keyCommands].map((c) => [c.name, c]),
);

const checkArity = (arity: number, n: number): boolean => (arity > 0 ? n === arity : n >= -arity);

function keysOf(spec: KeySpec, args: Buffer[]): Buffer[] {
  const last = spec.last < 0 ? args.length + spec.last : spec.last;
  const out: Buffer[] = [];
  for (let i = spec.first; i <= last && i < args.length; i += spec.step) out.push(args[i]!);
  return out;
}

const fail = (e: unknown): Buffer => {
  if (e instanceof CommandError) return errorReply(e.line);
  throw e;
};

export function dispatch(node: KvrocksNode, session: Session, args: Buffer[]): Reply {
  const rawName = args[0]!.toString("utf8");
  const spec = COMMANDS.get(rawName.toLowerCase());
  const argv = args.map((a) => a.toString("utf8"));
  if (!spec) {
    const rest = argv
      .slice(1)
      .map((a) => `\`${a}\``)
      .join(", ");
    return errorReply(`ERR unknown command \`${rawName}\`, with args beginning with: ${rest}`);
  }

  if (!session.authenticated) {
    if (node.config.password !== "") {
      if (spec.name !== "auth" && spec.name !== "hello") {
        return errorReply("NOAUTH Authentication required.");
      }
    } else {
      session.authenticated = true;
      session.admin = true;
    }
  }
  if (node.isLoading() && !spec.okLoading) {
    return errorReply("LOADING kvrocks is restoring the db from backup");
  }
  if (!checkArity(spec.arity, args.length)) return errorReply("ERR wrong number of arguments");

  const ctx: CommandContext = { node, session, args, argv };
  const started = performance.now();
  try {
    const execute = spec.prepare(ctx);
    if (node.config.clusterEnabled && spec.keys) {
      node.cluster.checkKeyAccess(keysOf(spec.keys, args), spec.write === true, session);
    }
    session.asking = false;
    if (spec.write && node.isSlave()) {
      return errorReply("READONLY You can't write against a read only slave.");
    }
    node.stats.commandsProcessed++;
    countRecentCommand(node.stats);
    node.stats.calls.set(spec.name, (node.stats.calls.get(spec.name) ?? 0) + 1);
    const reply = execute();
    return reply instanceof Promise ? reply.catch(fail) : reply;
  } catch (e) {
    return fail(e);
  } finally {
    slowlogPush(node, argv, started);
  }
}

/**
 * Kvrocks records every known command that ran (refused ones, a wrong AUTH included) taking
 * at least slowlog-log-slower-than microseconds (negative: none), with all its arguments.
 */
function slowlogPush(node: KvrocksNode, argv: string[], started: number): void {
  const threshold = Number(node.settings.get("slowlog-log-slower-than") ?? "200000");
  const micros = Math.round((performance.now() - started) * 1000);
  if (threshold < 0 || micros < threshold) return;
  const log = node.slowlog;
  log.entries.unshift({
    id: log.nextId++,
    unixSeconds: Math.floor(Date.now() / 1000),
    micros,
    args: argv,
  });
  log.entries.length = Math.min(log.entries.length, 128);
}
