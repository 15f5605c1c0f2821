// Migration tasks: `list tasks`, `get task ID [--wait]`, `cancel task ID`.
import { run } from "../context.js";
import { tasksView, taskView } from "../format/views.js";
import { followTask } from "../wait.js";
import { withCluster } from "./scope.js";
import type { Verbs } from "./verbs.js";

export function registerTasks(verbs: Verbs): void {
  withCluster(verbs.list.command("tasks").alias("task"))
    .description("List the cluster's migration tasks")
    .action(
      run(async (ctx, opts) => {
        const { ns, cl } = ctx.scope(opts);
        const data = await ctx.api.listTasks(ns, cl);
        ctx.out.result(data, () => tasksView(data.tasks));
      }),
    );

  withCluster(verbs.get.command("task"))
    .argument("<id>", "task id")
    .description("Show a migration task")
    .option("--wait", "follow it to its end, with progress")
    .action(
      run<{ wait?: boolean }>(async (ctx, opts, [id]) => {
        const { ns, cl } = ctx.scope(opts);
        const data = await ctx.api.getTask(ns, cl, id!);
        const task = opts.wait ? await followTask(ctx, ns, cl, data.task) : data.task;
        ctx.out.result({ task }, () => taskView(task));
      }),
    );

  withCluster(verbs.cancel.command("task"))
    .argument("<id>", "task id")
    .description("Cancel a queued or running migration task")
    .action(
      run(async (ctx, opts, [id]) => {
        const { ns, cl } = ctx.scope(opts);
        const data = await ctx.api.cancelTask(ns, cl, id!);
        const { task } = data;
        ctx.out.result(data, () =>
          task.state === "cancelled"
            ? `task ${task.id} cancelled`
            : `task ${task.id}: cancel requested; it stops once range ${task.in_flight ?? ""} in flight ends`,
        );
      }),
    );
}
