// Clusters: list, create, get (the cluster table), delete, import.
import { type Ctx, run } from "../context.js";
import { ApiError } from "../errors.js";
import { clusterView, namesView } from "../format/views.js";
import { nodeInputs, parseCount, parseNodes } from "../parse.js";
import type { ClusterHealth, ClusterJson } from "../types.js";
import { examples } from "./groups.js";
import { CL_HELP, collect, withCluster, withNamespace } from "./scope.js";
import type { Verbs } from "./verbs.js";

/** The health columns are a bonus: a controller without the health route still shows the table. */
async function healthIfAny(ctx: Ctx, ns: string, cl: string): Promise<ClusterHealth | undefined> {
  try {
    return await ctx.api.health(ns, cl);
  } catch (err) {
    if (err instanceof ApiError) return undefined;
    throw err;
  }
}

/** `get cluster` and the seed's `showcluster`. */
export async function showCluster(ctx: Ctx, ns: string, cl: string): Promise<void> {
  const data = await ctx.api.getCluster(ns, cl);
  const health = ctx.out.machine ? undefined : await healthIfAny(ctx, ns, cl);
  ctx.out.result(data, () => clusterView(data.cluster, health));
}

export interface CreateClusterInput {
  name: string;
  nodes: string[];
  replicas: number;
  password?: string | undefined;
}

/** `create cluster` and the seed's `mkcl -d`. */
export async function createCluster(ctx: Ctx, ns: string, input: CreateClusterInput) {
  const data = await ctx.api.createCluster(ns, {
    name: input.name,
    nodes: nodeInputs(input.nodes),
    replicas: input.replicas,
    ...(input.password ? { password: input.password } : {}),
  });
  ctx.out.result(data, () => `cluster ${ns}/${input.name} created\n\n${clusterView(data.cluster)}`);
  return data.cluster satisfies ClusterJson;
}

interface CreateFlags {
  nodes?: string[];
  replica?: string;
  password?: string;
}

export function registerClusters(verbs: Verbs): void {
  withNamespace(verbs.list.command("clusters").aliases(["cluster", "cl"]))
    .description("List the clusters of a namespace")
    .action(
      run(async (ctx, opts) => {
        const data = await ctx.api.listClusters(ctx.namespace(opts));
        ctx.out.result(data, () => namesView(data.clusters, "clusters"));
      }),
    );

  examples(
    withNamespace(verbs.create.command("cluster").alias("cl")),
    "kvctl create cluster c1 -n ns1 --nodes 10.0.0.1:6666,10.0.0.2:6666,10.0.0.3:6666,10.0.0.4:6666 -r 2",
    "  (2 shards: 10.0.0.1 master of 0-8191 with replica 10.0.0.2, 10.0.0.3 of 8192-16383)",
  )
    .argument("<name>", "cluster name")
    .description("Create a cluster: nodes in order, each shard takes --replica of them")
    .requiredOption(
      "--nodes <addrs>",
      "node addresses: host:port[@zone],... (with zones, each shard's nodes go to distinct zones)",
      collect,
    )
    .option("-r, --replica <n>", "nodes per shard: 1 master + n-1 replicas", "1")
    .option("--password <password>", "the nodes' requirepass")
    .action(
      run<CreateFlags>(async (ctx, opts, [name]) => {
        await createCluster(ctx, ctx.namespace(opts), {
          name: name!,
          nodes: parseNodes(opts.nodes),
          replicas: parseCount(opts.replica, "--replica"),
          password: opts.password,
        });
      }),
    );

  withCluster(verbs.get.command("cluster").alias("cl"))
    .argument("[name]", CL_HELP)
    .description("Show a cluster: shards, nodes, roles, slots, versions, health")
    .action(
      run(async (ctx, opts, [name]) => {
        const { ns, cl } = ctx.scope(opts, name);
        await showCluster(ctx, ns, cl);
      }),
    );

  withNamespace(verbs.delete.command("cluster").alias("cl"))
    .argument("<name>", "cluster name")
    .description("Delete a cluster from the controller (the nodes keep running)")
    .action(
      run(async (ctx, opts, [name]) => {
        const ns = ctx.namespace(opts);
        await ctx.api.deleteCluster(ns, name!);
        ctx.out.result(null, () => `cluster ${ns}/${name} deleted`);
      }),
    );

  withNamespace(verbs.import.command("cluster").alias("cl"))
    .argument("<name>", "name to give the cluster")
    .description("Import a running Kvrocks cluster from its nodes' own topology")
    .requiredOption(
      "--nodes <addrs>",
      "addresses of the cluster's nodes: host:port[@zone],...",
      collect,
    )
    .option("--password <password>", "the nodes' requirepass")
    .action(
      run<{ nodes?: string[]; password?: string }>(async (ctx, opts, [name]) => {
        const ns = ctx.namespace(opts);
        const data = await ctx.api.importCluster(ns, name!, {
          nodes: nodeInputs(parseNodes(opts.nodes)),
          ...(opts.password ? { password: opts.password } : {}),
        });
        ctx.out.result(
          data,
          () => `cluster ${ns}/${name} imported\n\n${clusterView(data.cluster)}`,
        );
      }),
    );
}
