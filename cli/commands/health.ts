// What the probe knows: `get health` and `list failovers`.
import { run } from "../context.js";
import { failoversView, healthView } from "../format/views.js";
import { withCluster } from "./scope.js";
import type { Verbs } from "./verbs.js";

export function registerHealth(verbs: Verbs): void {
  withCluster(verbs.get.command("health"))
    .argument("[cluster]", "cluster (or -c)")
    .description("Show each node's health as the probe last saw it")
    .action(
      run(async (ctx, opts, [name]) => {
        const { ns, cl } = ctx.scope(opts, name);
        const data = await ctx.api.health(ns, cl);
        ctx.out.result(data, () => healthView(data));
      }),
    );

  withCluster(verbs.list.command("failovers").alias("failover"))
    .description("List the cluster's failovers, oldest first")
    .action(
      run(async (ctx, opts) => {
        const { ns, cl } = ctx.scope(opts);
        const data = await ctx.api.failovers(ns, cl);
        ctx.out.result(data, () => failoversView(data.failovers));
      }),
    );
}
