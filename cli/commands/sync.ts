// `sync cluster [--force]`: push the stored topology to every node now.
import { run } from "../context.js";
import { syncView } from "../format/views.js";
import { withCluster } from "./scope.js";
import type { Verbs } from "./verbs.js";

export function registerSync(verbs: Verbs): void {
  withCluster(verbs.sync.command("cluster").alias("cl"))
    .argument("[name]", "cluster (or -c)")
    .description("Push the stored topology to every node (the probe also does this)")
    .option("--force", "re-apply even on nodes that already have this version")
    .action(
      run<{ force?: boolean }>(async (ctx, opts, [name]) => {
        const { ns, cl } = ctx.scope(opts, name);
        const data = await ctx.api.sync(ns, cl, Boolean(opts.force));
        ctx.out.result(data, () => syncView(data.results));
      }),
    );
}
