// Failover, in both dialects:
//   upstream  kvctl failover shard IDX [--preferred ID]
//   seed      kvctl failover -si IDX [-ni ID]
import type { Command } from "commander";
import { run } from "../context.js";
import { UsageError } from "../errors.js";
import { parseIndex } from "../parse.js";
import { listed, UPSTREAM } from "./groups.js";
import { findNode, withCluster } from "./scope.js";

interface FailoverFlags {
  preferred?: string;
  nodeId?: string;
  shardIndex?: string;
  shard?: string;
}

function shardArg(resource: string | undefined, index: string | undefined, opts: FailoverFlags) {
  if (resource !== undefined && resource !== "shard" && index === undefined) {
    return resource; // `failover 1`
  }
  if (resource !== undefined && resource !== "shard") {
    throw new UsageError(`failover works on a shard: kvctl failover shard IDX, not "${resource}"`);
  }
  const given = [index, opts.shardIndex, opts.shard].filter((v) => v !== undefined);
  if (given.length === 0)
    throw new UsageError("which shard? kvctl failover shard IDX (or -si IDX)");
  if (new Set(given).size > 1) throw new UsageError("the shard is given twice, differently");
  return given[0];
}

export function registerFailover(program: Command): void {
  withCluster(listed(program.command("failover"), UPSTREAM, "failover shard IDX | -si IDX"))
    .argument("[resource]", '"shard"')
    .argument("[index]", "shard index")
    .description("Promote a replica of a shard: the best one, or --preferred ID")
    .usage("shard IDX [--preferred ID] [-n NS] [-c CL]\n       kvctl failover -si IDX [-ni ID]")
    .option("--preferred <id>", "node id (or unique prefix) to promote")
    .option("-s, --shard <index>", "shard index (instead of the argument)")
    .option("--shard-index <index>", "seed: -si, the shard index")
    .option("--node-id <id>", "seed: -ni, the node to promote")
    .action(
      run<FailoverFlags>(async (ctx, opts, [resource, index]) => {
        const { ns, cl } = ctx.scope(opts);
        const shard = parseIndex(shardArg(resource, index, opts), "shard");
        let preferred = opts.preferred ?? opts.nodeId;
        if (preferred !== undefined && preferred.length < 40) {
          preferred = findNode((await ctx.api.getCluster(ns, cl)).cluster, preferred, shard).node
            .id;
        }
        const data = await ctx.api.failover(ns, cl, shard, preferred);
        if (ctx.out.machine) return ctx.out.result(data, () => "");
        const { cluster } = await ctx.api.getCluster(ns, cl);
        const addr = cluster.shards[shard]?.nodes.find((n) => n.id === data.new_master_id)?.addr;
        ctx.out.result(
          data,
          () => `shard ${shard}: new master ${addr ?? "?"} (${data.new_master_id})`,
        );
      }),
    );
}
