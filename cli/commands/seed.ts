// The seed's short commands, first-class: mkns, mkcl, showcluster, migdata, migslot, addshard
// (failover -si/-ni lives with failover). Where a seed flag clashes with upstream's
// (-n nodes vs namespace, -c nodes file vs cluster, -s shards/source vs shard), the seed
// meaning wins for that command and the namespace/cluster come from --namespace/--cluster
// or `kvctl use`.
import type { Command } from "commander";
import { evenSplit, formatSlotRange } from "../../lib/slots/index.js";
import { type Ctx, run } from "../context.js";
import { UsageError } from "../errors.js";
import { type PlannedShard, planView } from "../format/views.js";
import { nodesFromFlags, parseCount, parseIndex, parseSlots, slotTexts } from "../parse.js";
import { createCluster, showCluster } from "./clusters.js";
import { examples, listed, SEED } from "./groups.js";
import { migrate } from "./migrate.js";
import { createNamespace } from "./namespaces.js";
import { CL_HELP, NS_HELP, withCluster } from "./scope.js";
import { addShard } from "./shards.js";

interface NodesFlags {
  nodes?: string;
  nodesFile?: string;
  shards: string;
  do?: boolean;
  password?: string;
}

/** Nodes in order, `shards` equal chunks, the first of each chunk its master. */
function planShards(nodes: string[], shards: number, firstIndex: number, withSlots: boolean) {
  if (nodes.length % shards !== 0 || nodes.length < shards) {
    throw new UsageError(`${nodes.length} nodes cannot be split evenly into ${shards} shards`);
  }
  const size = nodes.length / shards;
  const ranges = withSlots ? evenSplit(shards) : [];
  return Array.from(
    { length: shards },
    (_, i): PlannedShard => ({
      index: firstIndex + i,
      nodes: nodes.slice(i * size, (i + 1) * size).map((addr, j) => ({
        addr,
        role: j === 0 ? "master" : "slave",
      })),
      slot_ranges: ranges[i] ? [formatSlotRange(ranges[i])] : [],
    }),
  );
}

function nodeFlags(cmd: Command): Command {
  return cmd
    .option("-n, --nodes <addrs>", "node addresses: host:port,host:port,...")
    .option("-c, --nodes-file <path>", "file with the node addresses, one per line")
    .option("-d, --do", "do it (without -d: print the plan and change nothing)")
    .option("--password <password>", "the nodes' requirepass");
}

/** Without -d: what would be done, and nothing else. */
function showPlan(ctx: Ctx, title: string, plan: unknown, shards: PlannedShard[]) {
  ctx.out.result(
    { plan, applied: false },
    () => `${title}\n\n${planView(shards)}\n\nnothing was changed: add -d to do it`,
  );
}

export function registerSeed(program: Command): void {
  listed(program.command("mkns"), SEED, "mkns NAME")
    .argument("<name>", "namespace name")
    .description("Make a namespace")
    .action(createNamespace);

  const mkcl = listed(program.command("mkcl"), SEED, "mkcl -cn NAME -s N -n NODES [-d]")
    .description("Make a cluster: print the plan, or create it with -d")
    .usage("-cn NAME [-s SHARDS] -n NODES | -c FILE [-d] [--namespace NS]")
    .option("--cluster-name <name>", "the new cluster's name (seed: -cn)")
    .option("-s, --shards <count>", "number of shards; replicas = nodes / shards", "1");
  examples(
    nodeFlags(mkcl).option("--namespace <ns>", NS_HELP),
    "kvctl mkcl -cn c1 -s 2 -n 10.0.0.1:6666,10.0.0.2:6666,10.0.0.3:6666,10.0.0.4:6666",
    "  (the plan: 2 shards of 2 nodes, the first of each pair its master; add -d to make it)",
    "kvctl mkcl -cn c1 -s 2 -c nodes.txt -d --namespace prod",
  ).action(
    run<NodesFlags & { clusterName?: string }>(async (ctx, opts) => {
      const name = opts.clusterName;
      if (!name) throw new UsageError("mkcl needs the cluster name: -cn NAME");
      const ns = ctx.namespace(opts);
      const nodes = nodesFromFlags(opts.nodes, opts.nodesFile);
      const shardCount = parseCount(opts.shards, "-s (shards)");
      const shards = planShards(nodes, shardCount, 0, true);
      const replicas = nodes.length / shardCount;
      const plan = { namespace: ns, name, replicas, shards };
      const title = `cluster ${ns}/${name}: ${shardCount} shard(s) of ${replicas} node(s)`;
      if (!opts.do) return showPlan(ctx, title, plan, shards);
      await createCluster(ctx, ns, { name, nodes, replicas, password: opts.password });
    }),
  );

  withCluster(listed(program.command("showcluster"), SEED, "showcluster"))
    .description("Show the cluster: nodes, roles, slots, versions, health")
    .action(
      run(async (ctx, opts) => {
        const { ns, cl } = ctx.scope(opts);
        await showCluster(ctx, ns, cl);
      }),
    );

  const migration = (name: string, slotOnly: boolean, description: string) => {
    const cmd = withCluster(listed(program.command(name), SEED, `${name} -s SRC -t DST -l SLOTS`))
      .description(description)
      .usage("-s SRC -t DST -l SLOTS [-n NS] [-c CL]")
      .requiredOption("-s, --source <index>", "source shard index")
      .requiredOption("-t, --target <index>", "target shard index")
      .requiredOption("-l, --slots <slots>", 'slots: "0-4095,8192"');
    if (!slotOnly) cmd.option("--wait", "follow the migration to its end, with progress");
    return cmd.action(
      run<{ source: string; target: string; slots: string; wait?: boolean }>(async (ctx, opts) => {
        const { ns, cl } = ctx.scope(opts);
        await migrate(ctx, ns, cl, {
          slots: slotTexts(parseSlots(opts.slots, "-l")),
          source: parseIndex(opts.source, "-s (source)"),
          target: parseIndex(opts.target, "-t (target)"),
          slotOnly,
          wait: Boolean(opts.wait),
        });
      }),
    );
  };
  migration("migdata", false, "Migrate slots and their data from one shard to another");
  migration("migslot", true, "Migrate slots only, without their data");

  const addshard = listed(program.command("addshard"), SEED, "addshard -n NODES [-s N] [-d]")
    .description("Add shards without slots: print the plan, or add them with -d")
    .usage("-n NODES | -c FILE [-s SHARDS] [-d] [--namespace NS] [--cluster CL]")
    .option("-s, --shards <count>", "number of shards the nodes make", "1");
  nodeFlags(addshard)
    .option("--namespace <ns>", NS_HELP)
    .option("--cluster <name>", CL_HELP)
    .action(
      run<NodesFlags>(async (ctx, opts) => {
        const { ns, cl } = ctx.scope(opts);
        const nodes = nodesFromFlags(opts.nodes, opts.nodesFile);
        const count = parseCount(opts.shards, "-s (shards)");
        const { shards: existing } = await ctx.api.listShards(ns, cl);
        const shards = planShards(nodes, count, existing.length, false);
        if (!opts.do)
          return showPlan(ctx, `add ${count} shard(s) to ${ns}/${cl}`, { shards }, shards);
        const added: Awaited<ReturnType<typeof addShard>>[] = [];
        for (const planned of shards) {
          const addrs = planned.nodes.map((n) => n.addr);
          added.push(await addShard(ctx, ns, cl, addrs, opts.password));
        }
        ctx.out.result({ shards: added }, () =>
          added.map((a) => `shard ${a.index} added to ${ns}/${cl}`).join("\n"),
        );
      }),
    );
}
