// Namespaces: list, create, delete.
import { run } from "../context.js";
import { namesView } from "../format/views.js";
import type { Verbs } from "./verbs.js";

/** `create namespace NAME`, and the seed's `mkns NAME`. */
export const createNamespace = run(async (ctx, _opts, [name]) => {
  const data = await ctx.api.createNamespace(name!);
  ctx.out.result(data, () => `namespace ${data.namespace} created`);
});

export function registerNamespaces(verbs: Verbs): void {
  verbs.list
    .command("namespaces")
    .aliases(["namespace", "ns"])
    .description("List namespaces")
    .action(
      run(async (ctx) => {
        const data = await ctx.api.listNamespaces();
        ctx.out.result(data, () => namesView(data.namespaces, "namespaces"));
      }),
    );

  verbs.create
    .command("namespace")
    .alias("ns")
    .argument("<name>", "namespace name")
    .description("Create a namespace")
    .action(createNamespace);

  verbs.delete
    .command("namespace")
    .alias("ns")
    .argument("<name>", "namespace name")
    .description("Delete a namespace (it must have no clusters)")
    .action(
      run(async (ctx, _opts, [name]) => {
        await ctx.api.deleteNamespace(name!);
        ctx.out.result(null, () => `namespace ${name} deleted`);
      }),
    );
}
