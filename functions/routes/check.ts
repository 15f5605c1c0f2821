// GET .../check: the cluster as its nodes see it, against etcd (kvctl check cluster).
import { Hono } from "hono";
import { z } from "zod";
import { NodeRole } from "../../lib/model/index.js";
import { checkCluster } from "../../lib/ops/index.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { describe } from "../openapi.js";
import { ClusterParams, validate } from "../validation.js";

const CheckAnswer = z.object({
  data: z.object({
    check: z.object({
      namespace: z.string(),
      cluster: z.string(),
      version: z.number().int(),
      ok: z.boolean(),
      nodes: z.array(
        z.object({
          id: z.string(),
          addr: z.string(),
          shard: z.number().int(),
          role: NodeRole,
          up: z.boolean(),
          error: z.string().nullable(),
          version: z.number().int().nullable(),
          kvrocks_version: z.string().nullable(),
          role_seen: NodeRole.nullable(),
          master_link_up: z.boolean().nullable(),
          lag: z.number().int().nullable(),
          view_matches: z.boolean().nullable(),
        }),
      ),
      findings: z.array(z.object({ node: z.string().nullable(), problem: z.string() })),
      repairs: z.array(
        z.object({
          id: z.string(),
          addr: z.string(),
          reason: z.string(),
          force: z.boolean(),
          needs_force: z.boolean(),
        }),
      ),
      /** Placement by zone: what the loss of one zone would do; `ok` does not count them. */
      warnings: z.array(z.object({ node: z.string().nullable(), problem: z.string() })),
    }),
  }),
});

export function checkRoutes(deps: AppDeps) {
  return new Hono<AppEnv>().get(
    "/:ns/clusters/:cluster/check",
    describe({
      summary:
        "Check every node's own view against etcd: versions, slots, replication, migrations; and the repairs the probe would make",
      tag: "clusters",
      answers: { 200: CheckAnswer },
      errors: [404],
    }),
    validate("param", ClusterParams),
    async (c) => {
      const { ns, cluster } = c.req.valid("param");
      return c.json({ data: { check: await checkCluster(deps.ops, ns, cluster) } });
    },
  );
}
