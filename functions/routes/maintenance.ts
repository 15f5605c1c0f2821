// Maintenance: drain and undrain a node (rolling upgrades), rotate the cluster's node password.
import { Hono } from "hono";
import { z } from "zod";
import { NodeId } from "../../lib/model/index.js";
import { drainNode, rotatePassword, undrainNode } from "../../lib/ops/index.js";
import { noteVersion } from "../audit.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { describe } from "../openapi.js";
import { ClusterParams, optionalJsonBody, validate } from "../validation.js";

const NodeParams = ClusterParams.extend({ id: NodeId });

const DrainBody = z
  .object({
    /** A master with no replica caught up: promote the undrained one with the most data anyway. */
    force: z.boolean().default(false),
  })
  .default({ force: false });

const UndrainBody = z
  .object({
    /** Switch the node back to master (planned switchover) once it has caught up. */
    restore_master: z.boolean().default(false),
    /** How long to wait for it to catch up before answering 409 (it stays drained). */
    wait_ms: z.number().int().min(0).max(60_000).default(10_000),
    /** Caught up: its link up and at most this many writes (sequence) behind its master. */
    max_lag: z.number().int().min(0).default(10_000),
  })
  .default({ restore_master: false, wait_ms: 10_000, max_lag: 10_000 });

const PasswordBody = z.object({
  password: z.string(),
  /** Replace a rotation to another password that did not finish. */
  force: z.boolean().default(false),
});

const drained = z.object({
  data: z.object({
    node_id: z.string(),
    shard: z.number().int(),
    drained: z.boolean(),
    /** A drained master: the replica it was switched over to. */
    new_master_id: z.string().nullable(),
    version: z.number().int(),
  }),
});

const undrained = z.object({
  data: z.object({
    node_id: z.string(),
    shard: z.number().int(),
    drained: z.boolean(),
    lag: z.number().int(),
    restored_master: z.boolean(),
    version: z.number().int(),
  }),
});

const rotated = z.object({ data: z.object({ nodes: z.number().int(), resumed: z.boolean() }) });

export function maintenanceRoutes(deps: AppDeps) {
  const base = "/:ns/clusters/:cluster";
  return new Hono<AppEnv>()
    .post(
      `${base}/nodes/:id/drain`,
      describe({
        summary:
          "Drain a node for maintenance: a master is switched over first (zero-loss); the probe then never fails it over nor alerts on it",
        tag: "nodes",
        answers: { 200: drained },
        body: DrainBody,
        errors: [404, 409],
      }),
      validate("param", NodeParams),
      async (c) => {
        const { ns, cluster, id } = c.req.valid("param");
        const body = await optionalJsonBody(c.req, DrainBody);
        const result = await drainNode(deps.ops, { ns, cluster, nodeId: id, force: body.force });
        noteVersion(c, result.cluster.version);
        return c.json({
          data: {
            node_id: id,
            shard: result.shard,
            drained: true,
            new_master_id: result.newMasterId,
            version: result.cluster.version,
          },
        });
      },
    )
    .post(
      `${base}/nodes/:id/undrain`,
      describe({
        summary:
          "Undrain a node once it has caught up with its master (409 while it has not); optionally make it master again",
        tag: "nodes",
        answers: { 200: undrained },
        body: UndrainBody,
        errors: [404, 409],
      }),
      validate("param", NodeParams),
      async (c) => {
        const { ns, cluster, id } = c.req.valid("param");
        const body = await optionalJsonBody(c.req, UndrainBody);
        const result = await undrainNode(deps.ops, {
          ns,
          cluster,
          nodeId: id,
          restoreMaster: body.restore_master,
          waitMs: body.wait_ms,
          maxLag: body.max_lag,
        });
        noteVersion(c, result.cluster.version);
        return c.json({
          data: {
            node_id: id,
            shard: result.shard,
            drained: false,
            lag: result.lag,
            restored_master: result.restored,
            version: result.cluster.version,
          },
        });
      },
    )
    .put(
      `${base}/password`,
      describe({
        summary:
          "Rotate the password of every node (masterauth, then requirepass, then persisted) and store it; never answered",
        tag: "clusters",
        answers: { 200: rotated },
        errors: [404, 409],
      }),
      validate("param", ClusterParams),
      validate("json", PasswordBody),
      async (c) => {
        const { ns, cluster } = c.req.valid("param");
        const body = c.req.valid("json");
        const result = await rotatePassword(deps.ops, {
          ns,
          cluster,
          password: body.password,
          force: body.force,
        });
        noteVersion(c, result.cluster.version);
        return c.json({ data: { nodes: result.nodes, resumed: result.resumed } });
      },
    );
}
