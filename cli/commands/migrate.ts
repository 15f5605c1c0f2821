// `migrate slot S|A-B[,...] --target IDX [--slot-only] [--wait]`; the seed's migdata/migslot too.
// Upstream's kvctl sent `"slotOnly": "true"` (a string, under a key the server ignores), so its
// --slot-only moved data anyway; kvctl sends `slot_only: true` and slot-only means slot-only.
import { containsRange } from "../../lib/slots/index.js";
import type { MovePace } from "../api.js";
import { type Ctx, run } from "../context.js";
import { ApiError } from "../errors.js";
import { clusterView } from "../format/views.js";
import { parseIndex, parsePace, parseSlots, slotTexts } from "../parse.js";
import type { ClusterJson, MigrateAnswer } from "../types.js";
import { followClusterMigration, followTask } from "../wait.js";
import { examples } from "./groups.js";
import { withCluster } from "./scope.js";
import type { Verbs } from "./verbs.js";

export interface PaceFlags {
  maxRangeSlots?: string;
  speed?: string;
  batchSizeKb?: string;
  batchRateLimitMb?: string;
}

export interface MigrationRequest {
  slots: string[];
  target: number;
  slotOnly: boolean;
  wait: boolean;
  /** With slotOnly: move slots that hold keys anyway (sent only when set). */
  force?: boolean;
  /** The seed names the source shard; when given, each range must be on it. */
  source?: number;
  /** Range size and source settings of the move (sent only when given). */
  pace?: MovePace;
}

function assertOnSource(cluster: ClusterJson, source: number, slots: string[]): void {
  const shard = cluster.shards[source];
  if (!shard) throw new ApiError(404, `shard ${source} not found in cluster ${cluster.name}`);
  const owned = shard.slot_ranges.flatMap((r) => parseSlots(r, "slot_ranges"));
  for (const text of slots) {
    for (const r of parseSlots(text, "slots")) {
      if (!containsRange(owned, r)) {
        throw new ApiError(
          409,
          `slots ${text} are not all on shard ${source} (it owns ${shard.slot_ranges.join(",") || "none"})`,
        );
      }
    }
  }
}

const sourceOf = (cluster: ClusterJson, target: number) =>
  cluster.shards.findIndex((s) => s.migrating_slot !== null && s.target_shard_index === target);

export async function migrate(ctx: Ctx, ns: string, cl: string, req: MigrationRequest) {
  if (req.source !== undefined) {
    assertOnSource((await ctx.api.getCluster(ns, cl)).cluster, req.source, req.slots);
  }
  const one = req.slots.length === 1;
  // Upstream's controller answers `{"data": null}`.
  const answer: MigrateAnswer =
    (await ctx.api.migrate(ns, cl, {
      target: req.target,
      ...(one ? { slot: req.slots[0] } : { slots: req.slots }),
      slot_only: req.slotOnly,
      ...(req.force ? { force: true } : {}),
      ...req.pace,
    })) ?? {};
  const what = `slots ${req.slots.join(",")} -> shard ${req.target}`;
  const { task } = answer;
  if (task) {
    if (!req.wait) {
      ctx.out.result(
        answer,
        () =>
          `${what}: task ${task.id} ${task.state}\nfollow it with: kvctl get task ${task.id} --wait`,
      );
      return;
    }
    const done = await followTask(ctx, ns, cl, task);
    ctx.out.result(
      { task: done },
      () => `${what}: done (task ${done.id}, ${done.slots_done} slots)`,
    );
    return;
  }
  if (req.slotOnly) {
    const version = answer.cluster ? `; cluster version ${answer.cluster.version}` : "";
    ctx.out.result(answer, () => `${what}: moved (slot only, data not copied)${version}`);
    return;
  }
  // A controller that answers a data migration without a task (upstream's): watch the cluster.
  if (!req.wait) {
    ctx.out.result(answer, () => `${what}: migration started; watch it with: kvctl get cluster`);
    return;
  }
  const cluster = answer.cluster ?? (await ctx.api.getCluster(ns, cl)).cluster;
  const source = req.source ?? sourceOf(cluster, req.target);
  await followClusterMigration(ctx, ns, cl, source, req.target, req.slots);
  const after = await ctx.api.getCluster(ns, cl);
  ctx.out.result(after, () => `${what}: done\n\n${clusterView(after.cluster)}`);
}

interface MigrateFlags extends PaceFlags {
  target?: string;
  slotOnly?: boolean;
  force?: boolean;
  wait?: boolean;
}

export function registerMigrate(verbs: Verbs): void {
  examples(
    withCluster(verbs.migrate.command("slot").alias("slots")),
    "kvctl migrate slot 0-4095 --target 1 --wait       # slots and data, with progress",
    "kvctl migrate slot 100,200-300 --target 2 --slot-only",
  )
    .argument("<slots>", "a slot, a range A-B, or a list: 0-4095,8192")
    .description("Move slots to another shard, with their data unless --slot-only")
    .requiredOption("--target <index>", "the shard that receives the slots")
    .option("--slot-only", "move the slots in the topology only, without copying data")
    .option(
      "--force",
      "with --slot-only: move slots that hold keys anyway (their keys stay behind, unreachable)",
    )
    .option("--wait", "follow the migration to its end, with progress")
    .option("--max-range-slots <n>", "move at most n slots at a time (default: the controller's)")
    .option("--speed <keys/s>", "the source's migrate-speed while the task runs (0: no limit)")
    .option("--batch-size-kb <kb>", "the source's migrate-batch-size-kb while the task runs")
    .option("--batch-rate-limit-mb <mb>", "the source's migrate-batch-rate-limit-mb while it runs")
    .action(
      run<MigrateFlags>(async (ctx, opts, [slots]) => {
        const { ns, cl } = ctx.scope(opts);
        await migrate(ctx, ns, cl, {
          slots: slotTexts(parseSlots(slots, "slots")),
          target: parseIndex(opts.target, "--target"),
          slotOnly: Boolean(opts.slotOnly),
          force: Boolean(opts.force),
          wait: Boolean(opts.wait),
          pace: parsePace(opts),
        });
      }),
    );
}
