// `replace node OLD --with NEW[@zone]`: NEW joins OLD's shard, catches up, takes over if OLD
// is master, then OLD is removed; a task the probe rounds carry on (--wait follows it).
import type { Command } from "commander";
import { run } from "../context.js";
import { UsageError } from "../errors.js";
import { taskView } from "../format/views.js";
import { addrOf, nodeInput } from "../parse.js";
import { followTask } from "../wait.js";
import { examples, listed, OURS } from "./groups.js";
import { findNode, withCluster } from "./scope.js";

interface ReplaceFlags {
  with?: string;
  zone?: string;
  password?: string;
  force?: boolean;
  wait?: boolean;
}

export function registerReplace(program: Command): void {
  const replace = listed(
    program.command("replace").description("Replace a node with another"),
    OURS,
    "replace node OLD --with NEW[@zone]",
  );
  replace.commandsGroup("Resources:").helpCommand(false);
  examples(
    withCluster(replace.command("node")),
    "kvctl replace node 10.0.0.1:6666 --with 10.0.0.9:6666@eu-1b --wait",
    "kvctl replace node 3f2a9c --with 10.0.0.9:6666 --zone eu-1b",
  )
    .argument("<old>", "the node to replace: its id (or a unique prefix) or host:port")
    .description(
      "NEW joins OLD's shard as a replica, catches up, takes over by planned switchover if OLD is master; then OLD is removed",
    )
    .requiredOption("--with <addr>", "the new node: host:port[@zone]")
    .option("--zone <zone>", "the new node's zone (or host:port@zone)")
    .option("--password <password>", "the new node's requirepass (default: the old node's)")
    .option("--force", "take over a node a cluster no longer stored left initialised (admin)")
    .option("--wait", "follow the replacement to its end")
    .action(
      run<ReplaceFlags>(async (ctx, opts, [old]) => {
        const { ns, cl } = ctx.scope(opts);
        const fresh = nodeInput(opts.with!, opts.zone);
        if (typeof fresh !== "string" && opts.zone !== undefined && opts.with!.includes("@"))
          throw new UsageError("give the zone once: --with host:port@zone or --zone");
        let node = old!;
        if (!old!.includes(":"))
          node = findNode((await ctx.api.getCluster(ns, cl)).cluster, old!).node.id;
        const { task } = await ctx.api.replaceNode(ns, cl, node, {
          with: addrOf(opts.with!),
          ...(typeof fresh === "string" ? {} : { zone: fresh.zone }),
          ...(opts.password ? { password: opts.password } : {}),
          ...(opts.force ? { force: true } : {}),
        });
        if (!opts.wait) {
          ctx.out.result(
            { task },
            () => `${taskView(task)}\n\nfollow it with: kvctl get task ${task.id}`,
          );
          return;
        }
        const done = await followTask(ctx, ns, cl, task);
        ctx.out.result(
          { task: done },
          () => `${done.replace?.old_addr} replaced by ${done.replace?.new_addr}`,
        );
      }),
    );
}
