// `scale out --nodes ...` / `scale in --shard IDX`: the controller plans which slots move
// where and queues the migrations; --dry-run shows the plan only, --wait follows it.
import type { ScaleBody } from "../api.js";
import { type Ctx, run, type ScopeFlags } from "../context.js";
import { UsageError } from "../errors.js";
import { clusterView, scalePlanView, tasksView } from "../format/views.js";
import { nodeInputs, parseCount, parseIndex, parseNodes, parsePace } from "../parse.js";
import type { Task } from "../types.js";
import { followTask } from "../wait.js";
import { examples } from "./groups.js";
import type { PaceFlags } from "./migrate.js";
import { collect, withCluster } from "./scope.js";
import type { Verbs } from "./verbs.js";

interface ScaleFlags extends ScopeFlags, PaceFlags {
  dryRun?: boolean;
  slotOnly?: boolean;
  wait?: boolean;
}

type Request = Omit<ScaleBody, "dry_run" | "slot_only">;

async function scale(ctx: Ctx, opts: ScaleFlags, request: Request): Promise<void> {
  const { ns, cl } = ctx.scope(opts);
  const dryRun = Boolean(opts.dryRun);
  const answer = await ctx.api.scale(ns, cl, {
    ...request,
    dry_run: dryRun,
    slot_only: Boolean(opts.slotOnly),
    ...parsePace(opts),
  });
  const queued = answer.tasks ?? [];
  const plan = scalePlanView(answer.plan);
  if (dryRun) {
    ctx.out.result(answer, () => `${plan}\n\ndry run: nothing was changed`);
    return;
  }
  if (!opts.wait || queued.length === 0) {
    ctx.out.result(answer, () => {
      if (answer.cluster) return `${plan}\n\ndone (slot only)\n\n${clusterView(answer.cluster)}`;
      if (queued.length === 0) return `${plan}\n\nnothing to do`;
      return `${plan}\n\n${tasksView(queued)}\n\nfollow them with: kvctl list tasks`;
    });
    return;
  }
  if (!ctx.out.machine) ctx.out.info(plan);
  const finished: Task[] = [];
  for (const task of queued) finished.push(await followTask(ctx, ns, cl, task));
  const after = await ctx.api.getCluster(ns, cl);
  ctx.out.result(
    { ...answer, tasks: finished, cluster: after.cluster },
    () => `${finished.length} task(s) succeeded\n\n${clusterView(after.cluster)}`,
  );
}

function scaleFlags(cmd: ReturnType<typeof withCluster>) {
  return cmd
    .option("--dry-run", "show the plan, change nothing")
    .option("--slot-only", "move the slots in the topology at once, without their data")
    .option("--wait", "follow the migrations to their end, with progress")
    .option("--max-range-slots <n>", "move at most n slots at a time (default: the controller's)")
    .option("--speed <keys/s>", "each source's migrate-speed while its task runs (0: no limit)")
    .option("--batch-size-kb <kb>", "each source's migrate-batch-size-kb while its task runs")
    .option("--batch-rate-limit-mb <mb>", "each source's migrate-batch-rate-limit-mb meanwhile");
}

export function registerScale(verbs: Verbs): void {
  scaleFlags(
    examples(
      withCluster(verbs.scale.command("out")),
      "kvctl scale out --nodes 10.0.0.5:6666,10.0.0.6:6666 --dry-run",
      "kvctl scale out --nodes 10.0.0.5:6666,10.0.0.6:6666,10.0.0.7:6666,10.0.0.8:6666 -r 2 --wait",
    )
      .description("Add shards and move slots onto them evenly")
      .requiredOption(
        "--nodes <addrs>",
        "a new shard's nodes, master first: host:port[@zone],... (repeat per shard)",
        collect,
      )
      .option("-r, --replica <n>", "split all --nodes into shards of n nodes instead")
      .option("--password <password>", "the new nodes' requirepass"),
  ).action(
    run<ScaleFlags & { nodes: string[]; replica?: string; password?: string }>(
      async (ctx, opts) => {
        let groups = opts.nodes.map((n) => parseNodes(n));
        if (opts.replica !== undefined) {
          const size = parseCount(opts.replica, "--replica");
          const all = groups.flat();
          if (all.length % size !== 0) {
            throw new UsageError(`${all.length} nodes cannot be split into shards of ${size}`);
          }
          groups = Array.from({ length: all.length / size }, (_, i) =>
            all.slice(i * size, (i + 1) * size),
          );
        }
        if (groups.some((g) => g.length === 0)) throw new UsageError("--nodes: no addresses given");
        const password = opts.password ? { password: opts.password } : {};
        await scale(ctx, opts, {
          add_shards: groups.map((nodes) => ({ nodes: nodeInputs(nodes), ...password })),
        });
      },
    ),
  );

  scaleFlags(
    examples(withCluster(verbs.scale.command("in")), "kvctl scale in --shard 2 --wait")
      .description("Move the slots off shards, then remove them")
      .requiredOption("-s, --shard <index>", "shard to remove (repeat, or 1,2)", collect),
  ).action(
    run<ScaleFlags & { shard: string[] }>(async (ctx, opts) => {
      const shards = opts.shard
        .flatMap((s) => s.split(","))
        .map((s) => parseIndex(s.trim(), "--shard"));
      await scale(ctx, opts, { remove_shards: shards });
    }),
  );
}
