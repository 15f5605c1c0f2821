import { Hono } from "hono";
import { z } from "zod";
import { Addr, NodeId, NodeInput, NodeRole, nodeSpecs, Zone } from "../../lib/model/index.js";
import {
  addNode,
  addShard,
  failoverShard,
  removeNode,
  removeShard,
  shardAt,
} from "../../lib/ops/index.js";
import { answers } from "../answers.js";
import { noteVersion } from "../audit.js";
import { principalOf } from "../auth.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { describe } from "../openapi.js";
import { publicCluster, publicNode } from "../redact.js";
import {
  assertMayTakeOver,
  ClusterParams,
  optionalJsonBody,
  ShardParams,
  skipsVersionCheck,
  TakeOver,
  validate,
} from "../validation.js";

const AddShardBody = z.object({
  /** Upstream's `host:port`, or ours: `{ "addr": "host:port", "zone": "eu-1a" }`. */
  nodes: z.array(NodeInput).min(1, "needs at least one node"),
  password: z.string().default(""),
  force: TakeOver,
});

const AddNodeBody = z.object({
  addr: Addr,
  /** Ours: the node's zone. */
  zone: Zone.optional(),
  role: NodeRole.default("slave"),
  password: z.string().default(""),
  force: TakeOver,
});

const FailoverBody = z
  .object({
    preferred_node_id: NodeId.optional(),
    /** Promote the preferred node even if it lacks data its master had (empty, or behind). */
    force: z.boolean().default(false),
  })
  .default({ force: false });

const NodeParams = ShardParams.extend({ id: NodeId });

export function shardRoutes(deps: AppDeps) {
  const { store } = deps.ops;
  const base = "/:ns/clusters/:cluster/shards";
  return new Hono<AppEnv>()
    .get(
      base,
      describe({
        summary: "List shards",
        tag: "shards",
        answers: { 200: answers.shards },
        errors: [404],
      }),
      validate("param", ClusterParams),
      async (c) => {
        const { ns, cluster } = c.req.valid("param");
        const found = await store.getCluster(ns, cluster);
        return c.json({ data: { shards: publicCluster(found.cluster).shards } });
      },
    )
    .post(
      base,
      describe({
        summary: "Add a shard (first node is master, no slots)",
        tag: "shards",
        answers: { 201: answers.shard },
        errors: [404, 409],
      }),
      validate("param", ClusterParams),
      validate("json", AddShardBody),
      async (c) => {
        const { ns, cluster } = c.req.valid("param");
        assertMayTakeOver(c.req.valid("json").force, principalOf(c));
        const body = c.req.valid("json");
        const changed = await addShard(deps.ops, ns, cluster, {
          ...body,
          ...nodeSpecs(body.nodes),
          skipVersionCheck: skipsVersionCheck(c.req),
        });
        noteVersion(c, changed.cluster.version);
        const shards = publicCluster(changed.cluster).shards;
        return c.json({ data: { shard: shards[shards.length - 1] } }, 201);
      },
    )
    .get(
      `${base}/:shard`,
      describe({
        summary: "Get a shard",
        tag: "shards",
        answers: { 200: answers.shard },
        errors: [404],
      }),
      validate("param", ShardParams),
      async (c) => {
        const { ns, cluster, shard } = c.req.valid("param");
        const found = await store.getCluster(ns, cluster);
        shardAt(found.cluster, shard);
        return c.json({ data: { shard: publicCluster(found.cluster).shards[shard] } });
      },
    )
    .delete(
      `${base}/:shard`,
      describe({
        summary: "Remove a shard that owns no slots",
        tag: "shards",
        answers: { 204: null },
        errors: [404, 409],
      }),
      validate("param", ShardParams),
      async (c) => {
        const { ns, cluster, shard } = c.req.valid("param");
        noteVersion(c, (await removeShard(deps.ops, ns, cluster, shard)).cluster.version);
        return c.body(null, 204);
      },
    )
    .get(
      `${base}/:shard/nodes`,
      describe({
        summary: "List a shard's nodes",
        tag: "nodes",
        answers: { 200: answers.nodes },
        errors: [404],
      }),
      validate("param", ShardParams),
      async (c) => {
        const { ns, cluster, shard } = c.req.valid("param");
        const found = await store.getCluster(ns, cluster);
        return c.json({ data: { nodes: shardAt(found.cluster, shard).nodes.map(publicNode) } });
      },
    )
    .post(
      `${base}/:shard/nodes`,
      describe({
        summary: "Add a node to a shard; answers its id",
        tag: "nodes",
        answers: { 201: answers.nodeId },
        errors: [404, 409],
      }),
      validate("param", ShardParams),
      validate("json", AddNodeBody),
      async (c) => {
        const { ns, cluster, shard } = c.req.valid("param");
        assertMayTakeOver(c.req.valid("json").force, principalOf(c));
        const changed = await addNode(deps.ops, ns, cluster, shard, {
          ...c.req.valid("json"),
          skipVersionCheck: skipsVersionCheck(c.req),
        });
        noteVersion(c, changed.cluster.version);
        // Upstream answers the bare id; ours wraps it the same way.
        return c.json({ data: changed.result.id }, 201);
      },
    )
    .delete(
      `${base}/:shard/nodes/:id`,
      describe({
        summary: "Remove a replica",
        tag: "nodes",
        answers: { 204: null },
        errors: [404, 409],
      }),
      validate("param", NodeParams),
      async (c) => {
        const { ns, cluster, shard, id } = c.req.valid("param");
        noteVersion(c, (await removeNode(deps.ops, ns, cluster, shard, id)).cluster.version);
        return c.body(null, 204);
      },
    )
    .post(
      `${base}/:shard/failover`,
      describe({
        summary: "Promote the best replica, or the preferred one",
        tag: "nodes",
        answers: { 200: answers.failover },
        body: FailoverBody,
        errors: [404, 409],
      }),
      validate("param", ShardParams),
      async (c) => {
        const { ns, cluster, shard } = c.req.valid("param");
        const body = await optionalJsonBody(c.req, FailoverBody);
        const result = await failoverShard(deps.ops, {
          ns,
          cluster,
          shard,
          preferredNodeId: body.preferred_node_id,
          force: body.force,
          reason: body.force ? "manual (forced)" : "manual",
        });
        noteVersion(c, result.cluster.version);
        return c.json({ data: { new_master_id: result.newMasterId } });
      },
    );
}
