// Migration tasks: list, read, cancel. Progress is made by the probe rounds, so clients
// wait for a task by polling it here.
import { Hono } from "hono";
import { z } from "zod";
import { cancelTask, getTask, listTasks } from "../../lib/ops/index.js";
import { answers } from "../answers.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { describe } from "../openapi.js";
import { ClusterParams, validate } from "../validation.js";

const TaskParams = ClusterParams.extend({
  id: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, "must be a task id"),
});

export function taskRoutes(deps: AppDeps) {
  const { store } = deps.ops;
  const base = "/:ns/clusters/:cluster/tasks";
  return new Hono<AppEnv>()
    .get(
      base,
      describe({
        summary: "List migration tasks",
        tag: "migration",
        answers: { 200: answers.tasks },
        errors: [404],
      }),
      validate("param", ClusterParams),
      async (c) => {
        const { ns, cluster } = c.req.valid("param");
        return c.json({ data: { tasks: await listTasks(store, ns, cluster) } });
      },
    )
    .get(
      `${base}/:id`,
      describe({
        summary: "Get a migration task",
        tag: "migration",
        answers: { 200: answers.task },
        errors: [404],
      }),
      validate("param", TaskParams),
      async (c) => {
        const { ns, cluster, id } = c.req.valid("param");
        return c.json({ data: { task: await getTask(store, ns, cluster, id) } });
      },
    )
    .delete(
      `${base}/:id`,
      describe({
        summary: "Cancel a migration task",
        tag: "migration",
        answers: { 200: answers.task },
        errors: [404, 409],
      }),
      validate("param", TaskParams),
      async (c) => {
        const { ns, cluster, id } = c.req.valid("param");
        const task = await cancelTask(store, ns, cluster, id, deps.ops.now());
        return c.json({ data: { task } });
      },
    );
}
