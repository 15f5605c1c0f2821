import { Hono } from "hono";
import { z } from "zod";
import { advanceMigrations } from "../../lib/migration/index.js";
import { NodeInput, nodeSpecs, ResourceName } from "../../lib/model/index.js";
import {
  createCluster,
  getTask,
  importCluster,
  listTasks,
  migrateSlots,
  scaleCluster,
  syncCluster,
  syncNode,
} from "../../lib/ops/index.js";
import { SlotRangeInput } from "../../lib/slots/index.js";
import { answers } from "../answers.js";
import { principalOf } from "../auth.js";
import { clusterAnswers } from "../cluster-answer.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { describe } from "../openapi.js";
import { publicCluster } from "../redact.js";
import {
  assertMayTakeOver,
  ClusterParams,
  NamespaceParams,
  optionalJsonBody,
  ShardIndex,
  skipsVersionCheck,
  TakeOver,
  validate,
} from "../validation.js";

const CreateClusterBody = z.object({
  name: ResourceName,
  /** Upstream's `host:port`, or ours: `{ "addr": "host:port", "zone": "eu-1a" }`. */
  nodes: z.array(NodeInput).min(1, "needs at least one node"),
  /** Upstream reads 0 as 1. */
  replicas: z.number().int().min(0).max(16).default(1),
  password: z.string().default(""),
  /** Ours: skip the reachability and cluster-mode check, as upstream's header does. */
  check_nodes: z.boolean().default(true),
  force: TakeOver,
});

const ImportClusterBody = z.object({
  nodes: z.array(NodeInput).min(1, "needs at least one node"),
  password: z.string().default(""),
});

const MaxRangeSlots = z.number().int().min(1).max(16384).optional();
/** Ours: the source master's migration settings while the task runs (Kvrocks's ranges). */
const SpeedFields = {
  /** `migrate-speed`, keys/s; 0 = no limit. */
  speed: z.number().int().min(0).max(2147483647).optional(),
  batch_size_kb: z.number().int().min(1).max(2147483647).optional(),
  batch_rate_limit_mb: z.number().int().min(0).max(2147483647).optional(),
};
const settingsOf = (b: {
  speed?: number;
  batch_size_kb?: number;
  batch_rate_limit_mb?: number;
}) => ({
  ...(b.speed !== undefined ? { speed: b.speed } : {}),
  ...(b.batch_size_kb !== undefined ? { batch_size_kb: b.batch_size_kb } : {}),
  ...(b.batch_rate_limit_mb !== undefined ? { batch_rate_limit_mb: b.batch_rate_limit_mb } : {}),
});

// Upstream's `slot` (one range), or ours: `slots`, several ranges of one source shard.
const MigrateBody = z
  .object({
    target: ShardIndex,
    slot: SlotRangeInput.optional(),
    slots: z.array(SlotRangeInput).min(1, "needs at least one range").max(4096).optional(),
    slot_only: z.boolean().default(false),
    /** Ours, with slot_only: move slots the controller knows were moved here with keys. */
    force: z.boolean().default(false),
    /** Ours, with data: the most slots one range of the task moves at a time. */
    max_range_slots: MaxRangeSlots,
    ...SpeedFields,
  })
  .refine((b) => (b.slot === undefined) !== (b.slots === undefined), {
    message: "give either slot or slots",
    path: ["slot"],
  });

const ScaleBody = z.object({
  add_shards: z
    .array(
      z.object({
        nodes: z.array(NodeInput).min(1, "needs at least one node"),
        password: z.string().default(""),
      }),
    )
    .default([]),
  remove_shards: z.array(ShardIndex).default([]),
  dry_run: z.boolean().default(false),
  /** Move slots in the topology only (no data), at once. */
  slot_only: z.boolean().default(false),
  check_nodes: z.boolean().default(true),
  force: TakeOver,
  /** Ours: the most slots one range of each queued task moves at a time. */
  max_range_slots: MaxRangeSlots,
  ...SpeedFields,
});

const SyncBody = z
  .object({
    force: z.boolean().default(false),
    /** Ours: only this node (address or id). */
    node: z.string().min(1).optional(),
  })
  .default({ force: false });

export function clusterRoutes(deps: AppDeps) {
  const { store } = deps.ops;
  const answerOf = clusterAnswers();
  return new Hono<AppEnv>()
    .get(
      "/:ns/clusters",
      describe({
        summary: "List the clusters of a namespace",
        tag: "clusters",
        answers: { 200: answers.clusters },
        errors: [404],
      }),
      validate("param", NamespaceParams),
      async (c) => {
        const { ns } = c.req.valid("param");
        await store.getNamespace(ns);
        return c.json({ data: { clusters: await store.listClusters(ns) } });
      },
    )
    .post(
      "/:ns/clusters",
      describe({
        summary: "Create a cluster over nodes, slots split evenly",
        tag: "clusters",
        answers: { 201: answers.cluster },
        errors: [404, 409],
      }),
      validate("param", NamespaceParams),
      validate("json", CreateClusterBody),
      async (c) => {
        const { ns } = c.req.valid("param");
        const body = c.req.valid("json");
        const skip =
          !body.check_nodes || c.req.header("x-dont-check-cluster-mode")?.toLowerCase() === "yes";
        assertMayTakeOver(body.force, principalOf(c));
        await store.getNamespace(ns);
        const { cluster } = await createCluster(deps.ops, ns, {
          ...body,
          ...nodeSpecs(body.nodes),
          replicas: body.replicas || 1,
          skipNodeCheck: skip,
          skipVersionCheck: skipsVersionCheck(c.req),
        });
        return c.json({ data: { cluster: publicCluster(cluster) } }, 201);
      },
    )
    .get(
      "/:ns/clusters/:cluster",
      describe({
        summary: "Get a cluster (passwords redacted)",
        tag: "clusters",
        answers: { 200: answers.cluster },
        errors: [404],
      }),
      validate("param", ClusterParams),
      async (c) => {
        const { ns, cluster } = c.req.valid("param");
        const text = await store.getClusterText(ns, cluster);
        return c.body(answerOf(ns, cluster, text), 200, { "content-type": "application/json" });
      },
    )
    .delete(
      "/:ns/clusters/:cluster",
      describe({
        summary: "Forget a cluster (its nodes are not touched)",
        tag: "clusters",
        answers: { 204: null },
        errors: [404],
      }),
      validate("param", ClusterParams),
      async (c) => {
        const { ns, cluster } = c.req.valid("param");
        await store.deleteCluster(ns, cluster);
        return c.body(null, 204);
      },
    )
    .post(
      "/:ns/clusters/:cluster/import",
      describe({
        summary: "Import a running cluster from the nodes' own view",
        tag: "clusters",
        answers: { 201: answers.cluster },
        errors: [404, 409],
      }),
      validate("param", ClusterParams),
      validate("json", ImportClusterBody),
      async (c) => {
        const { ns, cluster } = c.req.valid("param");
        await store.getNamespace(ns);
        const body = c.req.valid("json");
        const imported = await importCluster(deps.ops, ns, {
          name: cluster,
          ...body,
          ...nodeSpecs(body.nodes),
          skipVersionCheck: skipsVersionCheck(c.req),
        });
        return c.json({ data: { cluster: publicCluster(imported) } }, 201);
      },
    )
    .post(
      "/:ns/clusters/:cluster/migrate",
      describe({
        summary: "Move slots: slot-only now (200), or with data as a task (202)",
        tag: "migration",
        answers: { 200: answers.cluster, 202: answers.migration },
        errors: [404, 409],
      }),
      validate("param", ClusterParams),
      validate("json", MigrateBody),
      async (c) => {
        const { ns, cluster } = c.req.valid("param");
        const body = c.req.valid("json");
        const ranges = body.slots ?? [body.slot!];
        const outcome = await migrateSlots(deps.ops, ns, cluster, {
          target: body.target,
          ranges,
          slotOnly: body.slot_only,
          force: body.force,
          ...(body.max_range_slots ? { maxRangeSlots: body.max_range_slots } : {}),
          settings: settingsOf(body),
        });
        // Slot-only moves all ranges in one change (version +1 once), as upstream answers.
        if (outcome.cluster) return c.json({ data: { cluster: publicCluster(outcome.cluster) } });
        // Start the first range now; the probe rounds carry it on.
        await advanceMigrations(deps.ops, ns, cluster, { startOnly: true });
        const task = await getTask(store, ns, cluster, outcome.task.id);
        // Upstream answers the cluster: scripts read data.cluster (migrating_slot set) after it.
        const started = await store.getCluster(ns, cluster);
        return c.json({ data: { task, cluster: publicCluster(started.cluster) } }, 202);
      },
    )
    .post(
      "/:ns/clusters/:cluster/scale",
      describe({
        summary: "Scale out or in: plan, and queue the moves",
        tag: "migration",
        answers: { 200: answers.scale, 202: answers.scale },
        errors: [404, 409],
      }),
      validate("param", ClusterParams),
      validate("json", ScaleBody),
      async (c) => {
        const { ns, cluster } = c.req.valid("param");
        const body = c.req.valid("json");
        assertMayTakeOver(body.force, principalOf(c));
        const outcome = await scaleCluster(deps.ops, ns, cluster, {
          force: body.force,
          addShards: body.add_shards.map((s) => ({ ...s, ...nodeSpecs(s.nodes) })),
          removeShards: body.remove_shards,
          dryRun: body.dry_run,
          slotOnly: body.slot_only,
          checkNodes: body.check_nodes,
          skipVersionCheck: skipsVersionCheck(c.req),
          ...(body.max_range_slots ? { maxRangeSlots: body.max_range_slots } : {}),
          settings: settingsOf(body),
        });
        const plan = outcome.plan;
        if (outcome.tasks.length === 0) {
          const answer =
            body.slot_only && !body.dry_run ? { cluster: publicCluster(outcome.cluster) } : {};
          return c.json({ data: { plan, tasks: [], ...answer } });
        }
        await advanceMigrations(deps.ops, ns, cluster, { startOnly: true });
        const ids = new Set(outcome.tasks.map((t) => t.id));
        const tasks = (await listTasks(store, ns, cluster)).filter((t) => ids.has(t.id));
        return c.json({ data: { plan, tasks } }, 202);
      },
    )
    .post(
      "/:ns/clusters/:cluster/sync",
      describe({
        summary: "Push the stored topology to every node, or to one",
        tag: "clusters",
        answers: { 200: answers.sync },
        body: SyncBody,
        errors: [404],
      }),
      validate("param", ClusterParams),
      async (c) => {
        const { ns, cluster } = c.req.valid("param");
        const { force, node } = await optionalJsonBody(c.req, SyncBody);
        const results =
          node === undefined
            ? await syncCluster(deps.ops, ns, cluster, force)
            : await syncNode(deps.ops, ns, cluster, node, force);
        return c.json({ data: { results } });
      },
    );
}
