import { Hono } from "hono";
import { clusterHealth, listHistory } from "../../lib/ops/index.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { ClusterParams, validate } from "../validation.js";

export function healthRoutes(deps: AppDeps) {
  const { store } = deps.ops;
  return new Hono<AppEnv>()
    .get("/:ns/clusters/:cluster/health", validate("param", ClusterParams), async (c) => {
      const { ns, cluster } = c.req.valid("param");
      return c.json({ data: await clusterHealth(store, ns, cluster) });
    })
    .get("/:ns/clusters/:cluster/failovers", validate("param", ClusterParams), async (c) => {
      const { ns, cluster } = c.req.valid("param");
      await store.getCluster(ns, cluster);
      const history = await listHistory(store, ns, cluster);
      return c.json({ data: { failovers: history.filter((h) => h.kind === "failover") } });
    });
}
