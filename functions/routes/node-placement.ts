// Nodes by what they replace or where their zone fits: add a replica wherever its zone is
// missing, and replace a node with another (a task: NEW joins, catches up, takes over, OLD goes).
import { Hono } from "hono";
import { z } from "zod";
import { Addr, Zone } from "../../lib/model/index.js";
import { addReplica, advanceReplacements, getTask, replaceNode } from "../../lib/ops/index.js";
import { answers } from "../answers.js";
import { noteVersion } from "../audit.js";
import { principalOf } from "../auth.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { describe } from "../openapi.js";
import { publicNode } from "../redact.js";
import {
  assertMayTakeOver,
  ClusterParams,
  skipsVersionCheck,
  TakeOver,
  validate,
} from "../validation.js";

const AddReplicaBody = z.object({
  addr: Addr,
  zone: Zone.optional(),
  password: z.string().default(""),
  force: TakeOver,
});

const ReplaceBody = z.object({
  /** NEW's address. */
  with: Addr,
  /** NEW's zone. */
  zone: Zone.optional(),
  /** NEW's requirepass; OLD's when absent. */
  password: z.string().optional(),
  force: TakeOver,
});

/** OLD: a node id, or its address. */
const ReplaceParams = ClusterParams.extend({
  node: z.string().min(1, "must be a node id or host:port").max(300),
});

export function nodePlacementRoutes(deps: AppDeps) {
  const { store } = deps.ops;
  const base = "/:ns/clusters/:cluster/nodes";
  return new Hono<AppEnv>()
    .post(
      base,
      describe({
        summary:
          "Add a replica to the shard its zone suits best (one without a node in that zone, then the smallest)",
        tag: "nodes",
        answers: {
          201: z.object({
            data: z.object({
              shard: z.number().int(),
              node: answers.nodes.shape.data.shape.nodes.element,
            }),
          }),
        },
        errors: [404, 409],
      }),
      validate("param", ClusterParams),
      validate("json", AddReplicaBody),
      async (c) => {
        const { ns, cluster } = c.req.valid("param");
        const body = c.req.valid("json");
        assertMayTakeOver(body.force, principalOf(c));
        const added = await addReplica(deps.ops, ns, cluster, {
          ...body,
          skipVersionCheck: skipsVersionCheck(c.req),
        });
        noteVersion(c, added.cluster.version);
        return c.json({ data: { shard: added.shard, node: publicNode(added.node) } }, 201);
      },
    )
    .post(
      `${base}/:node/replace`,
      describe({
        summary:
          "Replace a node: NEW joins its shard as a replica, catches up, takes over if it was master; then the node is removed (a task)",
        tag: "nodes",
        answers: { 202: answers.task },
        errors: [404, 409],
      }),
      validate("param", ReplaceParams),
      validate("json", ReplaceBody),
      async (c) => {
        const { ns, cluster, node } = c.req.valid("param");
        const body = c.req.valid("json");
        assertMayTakeOver(body.force, principalOf(c));
        const task = await replaceNode(deps.ops, ns, cluster, {
          node,
          addr: body.with,
          zone: body.zone,
          password: body.password,
          force: body.force,
          skipVersionCheck: skipsVersionCheck(c.req),
        });
        // One step now (NEW may already be caught up); the probe rounds carry it on.
        await advanceReplacements(deps.ops, ns, cluster).catch(() => []);
        return c.json({ data: { task: await getTask(store, ns, cluster, task.id) } }, 202);
      },
    );
}
