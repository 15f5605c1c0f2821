// Nodes: list, create (add to a shard), delete.
import { run } from "../context.js";
import { nodesView } from "../format/views.js";
import { parseIndex } from "../parse.js";
import { findNode, withCluster } from "./scope.js";
import type { Verbs } from "./verbs.js";

interface ShardFlag {
  shard?: string;
}

export function registerNodes(verbs: Verbs): void {
  withCluster(verbs.list.command("nodes").alias("node"))
    .description("List nodes: one shard's with -s, else every shard's")
    .option("-s, --shard <index>", "only this shard")
    .action(
      run<ShardFlag>(async (ctx, opts) => {
        const { ns, cl } = ctx.scope(opts);
        if (opts.shard !== undefined) {
          const data = await ctx.api.listNodes(ns, cl, parseIndex(opts.shard, "--shard"));
          ctx.out.result(data, () => nodesView(data.nodes));
          return;
        }
        const { cluster } = await ctx.api.getCluster(ns, cl);
        const nodes = cluster.shards.flatMap((s, shard) => s.nodes.map((n) => ({ shard, ...n })));
        ctx.out.result({ nodes }, () => nodesView(nodes));
      }),
    );

  withCluster(verbs.create.command("node"))
    .argument("<addr>", "the node's host:port")
    .description("Add a node to a shard (as a replica unless --role master)")
    .requiredOption("-s, --shard <index>", "shard to add it to")
    .option("--role <role>", "master or slave", "slave")
    .option("--password <password>", "the node's requirepass")
    .action(
      run<ShardFlag & { role: string; password?: string }>(async (ctx, opts, [addr]) => {
        const { ns, cl } = ctx.scope(opts);
        const shard = parseIndex(opts.shard, "--shard");
        const id = await ctx.api.createNode(ns, cl, shard, {
          addr: addr!,
          role: opts.role,
          ...(opts.password ? { password: opts.password } : {}),
        });
        ctx.out.result(id, () => `node ${addr} added to shard ${shard} with id ${id}`);
      }),
    );

  withCluster(verbs.delete.command("node"))
    .argument("<id>", "node id, or a unique prefix of it")
    .description("Remove a node from its shard (not a master: fail over first)")
    .option("-s, --shard <index>", "the node's shard (found from the id if left out)")
    .action(
      run<ShardFlag>(async (ctx, opts, [id]) => {
        const { ns, cl } = ctx.scope(opts);
        const { cluster } = await ctx.api.getCluster(ns, cl);
        const wanted = opts.shard === undefined ? undefined : parseIndex(opts.shard, "--shard");
        const { shard, node } = findNode(cluster, id!, wanted);
        await ctx.api.deleteNode(ns, cl, shard, node.id);
        ctx.out.result(null, () => `node ${node.addr} (${node.id}) removed from shard ${shard}`);
      }),
    );
}
