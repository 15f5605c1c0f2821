// Nodes: list, create (add to a shard, or where its zone fits), delete.
import { run } from "../context.js";
import { UsageError } from "../errors.js";
import { nodesView } from "../format/views.js";
import { addrOf, nodeInput, parseIndex } from "../parse.js";
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
    .argument("<addr>", "the node's host:port[@zone]")
    .description(
      "Add a node to a shard (as a replica unless --role master); without --shard, a replica joins the shard its zone suits best",
    )
    .option("-s, --shard <index>", "shard to add it to")
    .option("--role <role>", "master or slave", "slave")
    .option("--zone <zone>", "the node's zone (or host:port@zone)")
    .option("--password <password>", "the node's requirepass")
    .action(
      run<ShardFlag & { role: string; zone?: string; password?: string }>(
        async (ctx, opts, [addr]) => {
          const { ns, cl } = ctx.scope(opts);
          const input = nodeInput(addr!, opts.zone);
          const zone = typeof input === "string" ? {} : { zone: input.zone };
          const password = opts.password ? { password: opts.password } : {};
          if (opts.shard === undefined) {
            if (opts.role !== "slave")
              throw new UsageError("--shard: a master is added to a shard you name");
            const added = await ctx.api.addReplica(ns, cl, {
              addr: addrOf(addr!),
              ...zone,
              ...password,
            });
            ctx.out.result(
              added,
              () => `node ${addrOf(addr!)} added to shard ${added.shard} with id ${added.node.id}`,
            );
            return;
          }
          const shard = parseIndex(opts.shard, "--shard");
          const id = await ctx.api.createNode(ns, cl, shard, {
            addr: addrOf(addr!),
            role: opts.role,
            ...zone,
            ...password,
          });
          ctx.out.result(id, () => `node ${addrOf(addr!)} added to shard ${shard} with id ${id}`);
        },
      ),
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
