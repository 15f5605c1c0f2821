import { Hono } from "hono";
import { z } from "zod";
import { Addr, ResourceName } from "../../lib/model/index.js";
import {
  createCluster,
  importCluster,
  moveSlotsOnly,
  startDataMigration,
  syncCluster,
} from "../../lib/ops/index.js";
import { SlotRangeInput } from "../../lib/slots/index.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { publicCluster } from "../redact.js";
import {
  ClusterParams,
  NamespaceParams,
  optionalJsonBody,
  ShardIndex,
  validate,
} from "../validation.js";

const CreateClusterBody = z.object({
  name: ResourceName,
  nodes: z.array(Addr).min(1, "needs at least one node"),
  replicas: z.number().int().min(1).max(16).default(1),
  password: z.string().default(""),
  /** Ours: skip the reachability and cluster-mode check, as upstream's header does. */
  check_nodes: z.boolean().default(true),
});

const ImportClusterBody = z.object({
  nodes: z.array(Addr).min(1, "needs at least one node"),
  password: z.string().default(""),
});

const MigrateBody = z.object({
  target: ShardIndex,
  slot: SlotRangeInput,
  slot_only: z.boolean().default(false),
});

const SyncBody = z.object({ force: z.boolean().default(false) }).default({ force: false });

export function clusterRoutes(deps: AppDeps) {
  const { store } = deps.ops;
  return new Hono<AppEnv>()
    .get("/:ns/clusters", validate("param", NamespaceParams), async (c) => {
      const { ns } = c.req.valid("param");
      await store.getNamespace(ns);
      return c.json({ data: { clusters: await store.listClusters(ns) } });
    })
    .post(
      "/:ns/clusters",
      validate("param", NamespaceParams),
      validate("json", CreateClusterBody),
      async (c) => {
        const { ns } = c.req.valid("param");
        const body = c.req.valid("json");
        const skip =
          !body.check_nodes || c.req.header("x-dont-check-cluster-mode")?.toLowerCase() === "yes";
        await store.getNamespace(ns);
        const { cluster } = await createCluster(deps.ops, ns, { ...body, skipNodeCheck: skip });
        return c.json({ data: { cluster: publicCluster(cluster) } }, 201);
      },
    )
    .get("/:ns/clusters/:cluster", validate("param", ClusterParams), async (c) => {
      const { ns, cluster } = c.req.valid("param");
      const found = await store.getCluster(ns, cluster);
      return c.json({ data: { cluster: publicCluster(found.cluster) } });
    })
    .delete("/:ns/clusters/:cluster", validate("param", ClusterParams), async (c) => {
      const { ns, cluster } = c.req.valid("param");
      await store.deleteCluster(ns, cluster);
      return c.body(null, 204);
    })
    .post(
      "/:ns/clusters/:cluster/import",
      validate("param", ClusterParams),
      validate("json", ImportClusterBody),
      async (c) => {
        const { ns, cluster } = c.req.valid("param");
        await store.getNamespace(ns);
        const imported = await importCluster(deps.ops, ns, {
          name: cluster,
          ...c.req.valid("json"),
        });
        return c.json({ data: { cluster: publicCluster(imported) } }, 201);
      },
    )
    .post(
      "/:ns/clusters/:cluster/migrate",
      validate("param", ClusterParams),
      validate("json", MigrateBody),
      async (c) => {
        const { ns, cluster } = c.req.valid("param");
        const { target, slot, slot_only } = c.req.valid("json");
        if (slot_only) {
          const moved = await moveSlotsOnly(deps.ops, ns, cluster, slot, target);
          return c.json({ data: { cluster: publicCluster(moved.cluster) } });
        }
        const started = await startDataMigration(deps.ops, ns, cluster, slot, target);
        return c.json({ data: { cluster: publicCluster(started) } });
      },
    )
    .post("/:ns/clusters/:cluster/sync", validate("param", ClusterParams), async (c) => {
      const { ns, cluster } = c.req.valid("param");
      const { force } = await optionalJsonBody(c.req, SyncBody);
      const results = await syncCluster(deps.ops, ns, cluster, force);
      return c.json({ data: { results } });
    });
}
