// Shards: list, create (add), delete.
import { type Ctx, run } from "../context.js";
import { UsageError } from "../errors.js";
import { shardsView } from "../format/views.js";
import { nodeInputs, parseIndex, parseNodes } from "../parse.js";
import type { ShardJson } from "../types.js";
import { collect, withCluster } from "./scope.js";
import type { Verbs } from "./verbs.js";

/** Adds one shard; answers its index (the API answers the shard, the index is the last). */
export async function addShard(
  ctx: Ctx,
  ns: string,
  cl: string,
  nodes: string[],
  password?: string,
): Promise<{ index: number; shard: ShardJson }> {
  const { shard } = await ctx.api.createShard(ns, cl, {
    nodes: nodeInputs(nodes),
    ...(password ? { password } : {}),
  });
  const { shards } = await ctx.api.listShards(ns, cl);
  const master = shard.nodes.find((n) => n.role === "master");
  const index = shards.findIndex((s) => s.nodes.some((n) => n.id === master?.id));
  return { index: index === -1 ? shards.length - 1 : index, shard };
}

export function registerShards(verbs: Verbs): void {
  withCluster(verbs.list.command("shards").alias("shard"))
    .description("List a cluster's shards: master, node count, slots, migration")
    .action(
      run(async (ctx, opts) => {
        const { ns, cl } = ctx.scope(opts);
        const data = await ctx.api.listShards(ns, cl);
        ctx.out.result(data, () => shardsView(data.shards));
      }),
    );

  withCluster(verbs.create.command("shard"))
    .description("Add a shard (no slots yet: migrate some to it, or use 'scale out')")
    .requiredOption(
      "--nodes <addrs>",
      "the shard's nodes, master first: host:port[@zone],...",
      collect,
    )
    .option("--password <password>", "the nodes' requirepass")
    .action(
      run<{ nodes?: string[]; password?: string }>(async (ctx, opts) => {
        const { ns, cl } = ctx.scope(opts);
        const nodes = parseNodes(opts.nodes);
        if (nodes.length === 0) throw new UsageError("--nodes: no addresses given");
        const { index, shard } = await addShard(ctx, ns, cl, nodes, opts.password);
        ctx.out.result({ shard }, () => `shard ${index} added to ${ns}/${cl}`);
      }),
    );

  withCluster(verbs.delete.command("shard"))
    .argument("<index>", "shard index")
    .description("Remove a shard; it must own no slots")
    .action(
      run(async (ctx, opts, [index]) => {
        const { ns, cl } = ctx.scope(opts);
        const shard = parseIndex(index, "shard");
        await ctx.api.deleteShard(ns, cl, shard);
        ctx.out.result(null, () => `shard ${shard} deleted from ${ns}/${cl}`);
      }),
    );
}
