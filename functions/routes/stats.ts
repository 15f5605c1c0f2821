import { Hono } from "hono";
import { z } from "zod";
import type { NodePool } from "../../lib/kvrocks/index.js";
import { ClusterStats, clusterStats } from "../../lib/ops/stats.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { describe } from "../openapi.js";
import { ClusterParams, validate } from "../validation.js";

export const StatsAnswer = z.object({ data: ClusterStats });

/** `pool`: the app's kept node connections, shared with the scrape (a console polls this). */
export function statsRoutes(deps: AppDeps, pool: NodePool) {
  const ops = { ...deps.ops, nodePool: deps.ops.nodePool ?? pool };
  return new Hono<AppEnv>().get(
    "/:ns/clusters/:cluster/stats",
    describe({
      summary:
        "Live statistics of every node, read from the nodes now (INFO) within the node timeout",
      tag: "health",
      answers: { 200: StatsAnswer },
      errors: [404],
    }),
    validate("param", ClusterParams),
    async (c) => {
      const { ns, cluster } = c.req.valid("param");
      return c.json({ data: await clusterStats(ops, ns, cluster) });
    },
  );
}
