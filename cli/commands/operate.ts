// Operating the nodes through the controller: commands to them (`call`, the seed's
// send_command_to_*), the topology pushed to one node (`sync node`, sync_topo_to_node), and
// `check cluster` with its repairs. kvctl still talks only to the API.
import type { Command } from "commander";
import type { CommandBody } from "../api.js";
import { type Ctx, contextFor, type ScopeFlags } from "../context.js";
import { ApiError, UsageError } from "../errors.js";
import { shortId, table } from "../format/table.js";
import { syncView } from "../format/views.js";
import type { ClusterCheck, CommandAnswer } from "../types.js";
import { examples, listed, OURS, SEED } from "./groups.js";
import { CL_HELP, NS_HELP, withCluster } from "./scope.js";
import type { Verbs } from "./verbs.js";

/** A reply as redis-cli prints it. */
export function formatReply(reply: unknown, indent = ""): string {
  if (reply === null || reply === undefined) return "(nil)";
  if (typeof reply === "number") return `(integer) ${reply}`;
  if (typeof reply === "string") return reply.includes("\n") ? reply.trimEnd() : reply;
  if (Array.isArray(reply)) {
    if (reply.length === 0) return "(empty array)";
    return reply
      .map((item, i) => {
        const prefix = `${i + 1}) `;
        const inner = formatReply(item, `${indent}${" ".repeat(prefix.length)}`);
        return `${i === 0 ? "" : indent}${prefix}${inner}`;
      })
      .join("\n");
  }
  if (typeof reply === "object" && "error" in reply) return `(error) ${String(reply.error)}`;
  return JSON.stringify(reply);
}

function commandView(answer: CommandAnswer): string {
  return answer.results
    .map((r) => {
      const head = `${r.addr} (${r.role}, shard ${r.shard}):`;
      const body = r.ok ? formatReply(r.reply) : `(error) ${r.error}`;
      return body.includes("\n") ? `${head}\n${body}` : `${head} ${body}`;
    })
    .join("\n");
}

interface CallFlags extends ScopeFlags {
  masters?: boolean;
  replicas?: boolean;
  node?: string;
  force?: boolean;
}

async function sendCommand(ctx: Ctx, ns: string, cl: string, body: CommandBody) {
  const answer = await ctx.api.command(ns, cl, body);
  ctx.out.result(answer, () => commandView(answer));
  const failed = answer.results.filter((r) => !r.ok);
  if (failed.length > 0) {
    throw new ApiError(
      200,
      `${failed.length} of ${answer.results.length} node(s) answered an error`,
    );
  }
}

/** Arguments after the command word, as given (commander joins variadic ones otherwise). */
function commandWords(cmd: Command): string[] {
  const words = cmd.processedArgs.flat() as (string | undefined)[];
  return words.filter((w): w is string => w !== undefined);
}

function callCommand(parent: Command, name: string, group: string, term: string): Command {
  return withCluster(listed(parent.command(name), group, term))
    .allowUnknownOption()
    .option("--force", "allow FLUSHALL / FLUSHDB");
}

function checkView(check: ClusterCheck): string {
  const rows = check.nodes.map((n) => [
    shortId(n.id),
    n.addr,
    n.shard,
    n.role === n.role_seen || n.role_seen === null ? n.role : `${n.role}(sees ${n.role_seen})`,
    n.up ? "up" : "down",
    n.version,
    n.view_matches === null ? null : n.view_matches ? "same" : "differs",
    n.master_link_up === null ? null : n.master_link_up ? "up" : "down",
    n.lag,
    n.kvrocks_version,
  ]);
  const nodes = table(
    ["node id", "address", "shard", "role", "state", "version", "view", "link", "lag", "kvrocks"],
    rows,
  );
  const head = `cluster ${check.namespace}/${check.cluster}, version ${check.version}`;
  // Zone placement: not a node's fault, so printed beside [OK] too (an older controller: none).
  const warned = (check.warnings ?? []).map((w) => `\n[WARN] ${w.problem}`).join("");
  if (check.ok)
    return `${head}\n\n${nodes}\n\n[OK] all nodes agree with the stored topology${warned}`;
  const findings = check.findings
    .map((f) => `[ERR] ${f.node ? `${f.node} ` : ""}${f.problem}`)
    .join("\n");
  const repairs =
    check.repairs.length === 0
      ? ""
      : `\n\nrepairs (kvctl check cluster --fix):\n${check.repairs
          .map(
            (r) =>
              `  push the topology to ${r.addr}${r.force ? " (force)" : ""}${r.needs_force ? " -- only with --force" : ""}`,
          )
          .join("\n")}`;
  return `${head}\n\n${nodes}\n\n${findings}${warned}${repairs}`;
}

async function fix(ctx: Ctx, ns: string, cl: string, check: ClusterCheck, force: boolean) {
  for (const repair of check.repairs) {
    if (repair.needs_force && !force) {
      ctx.out.info(`skipped ${repair.addr}: ${repair.reason} (add --force to push anyway)`);
      continue;
    }
    ctx.out.info(`pushing the topology to ${repair.addr}: ${repair.reason}`);
    const { results } = await ctx.api.syncNode(ns, cl, repair.id, repair.force || force);
    for (const r of results) {
      ctx.out.info(`  ${r.addr}: ${r.ok ? "ok" : `failed: ${r.error}`}`);
    }
  }
}

export function registerOperate(program: Command, verbs: Verbs): void {
  const call = callCommand(program, "call", OURS, "call [--masters|--replicas|--node ADDR] CMD ...")
    .description("Send one command to every node of the cluster (redis-cli --cluster call)")
    .argument("<command...>", "the command and its arguments")
    .option("--masters", "masters only")
    .option("--replicas", "replicas only")
    .option("--node <addr>", "one node, by address or id");
  examples(
    call,
    "kvctl call CONFIG GET maxclients",
    "kvctl call --masters DBSIZE",
    "kvctl call --node 10.0.0.1:6666 INFO replication",
    "kvctl call FLUSHALL --force          # refused without --force",
  ).action(async (...params: unknown[]) => {
    const cmd = params[params.length - 1] as Command;
    const ctx = contextFor(cmd);
    const opts = cmd.optsWithGlobals<CallFlags>();
    if (opts.masters && opts.replicas) {
      throw new UsageError("give --masters or --replicas, not both");
    }
    const { ns, cl } = ctx.scope(opts);
    await sendCommand(ctx, ns, cl, {
      command: commandWords(cmd),
      target: opts.masters ? "masters" : opts.replicas ? "replicas" : "all",
      node: opts.node,
      force: Boolean(opts.force),
    });
  });

  callCommand(program, "send_command_to_cluster", SEED, "send_command_to_cluster CMD ARGS...")
    .description("Send one command to every node of the cluster")
    .argument("<command...>", "the command and its arguments")
    .action(async (...params: unknown[]) => {
      const cmd = params[params.length - 1] as Command;
      const ctx = contextFor(cmd);
      const opts = cmd.optsWithGlobals<CallFlags>();
      const { ns, cl } = ctx.scope(opts);
      await sendCommand(ctx, ns, cl, { command: commandWords(cmd), force: Boolean(opts.force) });
    });

  callCommand(program, "send_command_to_node", SEED, "send_command_to_node ADDR CMD ARGS...")
    .description("Send one command to one node of the cluster")
    .argument("<addr>", "the node's address (or id)")
    .argument("<command...>", "the command and its arguments")
    .action(async (...params: unknown[]) => {
      const cmd = params[params.length - 1] as Command;
      const ctx = contextFor(cmd);
      const opts = cmd.optsWithGlobals<CallFlags>();
      const { ns, cl } = ctx.scope(opts);
      const [node, ...command] = commandWords(cmd);
      await sendCommand(ctx, ns, cl, { command, node, force: Boolean(opts.force) });
    });

  const syncNode = async (
    cmd: Command,
    node: string | undefined,
    opts: ScopeFlags & { force?: boolean },
  ) => {
    const ctx = contextFor(cmd);
    if (!node) throw new UsageError("which node? give its address: -n ADDR");
    const { ns, cl } = ctx.scope(opts);
    const data = await ctx.api.syncNode(ns, cl, node, Boolean(opts.force));
    ctx.out.result(data, () => syncView(data.results));
    if (data.results.some((r) => !r.ok)) throw new ApiError(200, `${node} missed the topology`);
  };

  withCluster(verbs.sync.command("node"))
    .argument("<addr>", "the node's address (or id)")
    .description("Push the stored topology to one node")
    .option("--force", "re-apply even if the node already has this version")
    .action(async (addr: string, _opts: unknown, cmd: Command) =>
      syncNode(cmd, addr, cmd.optsWithGlobals()),
    );

  listed(program.command("sync_topo_to_node"), SEED, "sync_topo_to_node -n ADDR")
    .description("Push the stored topology to one node")
    .option("-n, --node <addr>", "the node's address")
    .option("--force", "re-apply even if the node already has this version")
    .option("--namespace <ns>", NS_HELP)
    .option("--cluster <name>", CL_HELP)
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<ScopeFlags & { node?: string; force?: boolean }>();
      await syncNode(cmd, opts.node, opts);
    });

  withCluster(listed(program.command("sync_topo_to_cluster"), SEED, "sync_topo_to_cluster"))
    .description("Push the stored topology to every node")
    .option("--force", "re-apply even on nodes that already have this version")
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd);
      const opts = cmd.optsWithGlobals<ScopeFlags & { force?: boolean }>();
      const { ns, cl } = ctx.scope(opts);
      const data = await ctx.api.sync(ns, cl, Boolean(opts.force));
      ctx.out.result(data, () => syncView(data.results));
    });

  const check = listed(program.command("check"), OURS, "check cluster [NAME] [--fix [--force]]")
    .description("Check a cluster against its nodes' own view (redis-cli --cluster check)")
    .helpCommand(false);
  const checkCluster = withCluster(check.command("cluster").alias("cl"))
    .argument("[name]", "cluster (or -c)")
    .description(
      "Each node's view, versions, slots, replication, open migrations; exit 1 on any finding",
    )
    .option("--fix", "show, then make, the repairs the probe would (push the topology)")
    .option("--force", "with --fix: also push to nodes that claim a newer version");
  examples(
    checkCluster,
    "kvctl check cluster",
    "kvctl check cluster orders -n prod -o json",
    "kvctl check cluster --fix",
  ).action(async (name: string | undefined, _opts: unknown, cmd: Command) => {
    const ctx = contextFor(cmd);
    const opts = cmd.optsWithGlobals<ScopeFlags & { fix?: boolean; force?: boolean }>();
    const { ns, cl } = ctx.scope(opts, name);
    let { check: result } = await ctx.api.check(ns, cl);
    if (opts.fix && result.repairs.length > 0) {
      ctx.out.info(checkView(result));
      await fix(ctx, ns, cl, result, Boolean(opts.force));
      result = (await ctx.api.check(ns, cl)).check;
    }
    ctx.out.result(result, () => checkView(result));
    if (!result.ok) {
      throw new ApiError(
        200,
        `cluster ${ns}/${cl}: ${result.findings.length} problem(s)${
          opts.fix ? " left" : result.repairs.length > 0 ? "; --fix repairs some" : ""
        }`,
      );
    }
  });
}
