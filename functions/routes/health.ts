import { Hono } from "hono";
import { clusterHealth, listHistory } from "../../lib/ops/index.js";
import { answers } from "../answers.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { describe } from "../openapi.js";
import { ClusterParams, validate } from "../validation.js";

export function healthRoutes(deps: AppDeps) {
  const { store } = deps.ops;
  return new Hono<AppEnv>()
    .get(
      "/:ns/clusters/:cluster/health",
      describe({
        summary: "A cluster's health as the probe last recorded it",
        tag: "health",
        answers: { 200: answers.health },
        errors: [404],
      }),
      validate("param", ClusterParams),
      async (c) => {
        const { ns, cluster } = c.req.valid("param");
        return c.json({
          data: await clusterHealth(store, ns, cluster, deps.ops.safeModeRatio),
        });
      },
    )
    .get(
      "/:ns/clusters/:cluster/failovers",
      describe({
        summary: "Failover history",
        tag: "health",
        answers: { 200: answers.failovers },
        errors: [404],
      }),
      validate("param", ClusterParams),
      async (c) => {
        const { ns, cluster } = c.req.valid("param");
        await store.getCluster(ns, cluster);
        const history = await listHistory(store, ns, cluster);
        return c.json({ data: { failovers: history.filter((h) => h.kind === "failover") } });
      },
    );
}
