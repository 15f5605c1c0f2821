import { Hono } from "hono";
import { z } from "zod";
import { Addr, NodeId, NodeRole } from "../../lib/model/index.js";
import {
  addNode,
  addShard,
  failoverShard,
  removeNode,
  removeShard,
  shardAt,
} from "../../lib/ops/index.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { publicCluster, publicNode } from "../redact.js";
import { ClusterParams, optionalJsonBody, ShardParams, validate } from "../validation.js";

const AddShardBody = z.object({
  nodes: z.array(Addr).min(1, "needs at least one node"),
  password: z.string().default(""),
});

const AddNodeBody = z.object({
  addr: Addr,
  role: NodeRole.default("slave"),
  password: z.string().default(""),
});

const FailoverBody = z.object({ preferred_node_id: NodeId.optional() }).default({});

const NodeParams = ShardParams.extend({ id: NodeId });

export function shardRoutes(deps: AppDeps) {
  const { store } = deps.ops;
  const base = "/:ns/clusters/:cluster/shards";
  return new Hono<AppEnv>()
    .get(base, validate("param", ClusterParams), async (c) => {
      const { ns, cluster } = c.req.valid("param");
      const found = await store.getCluster(ns, cluster);
      return c.json({ data: { shards: publicCluster(found.cluster).shards } });
    })
    .post(base, validate("param", ClusterParams), validate("json", AddShardBody), async (c) => {
      const { ns, cluster } = c.req.valid("param");
      const changed = await addShard(deps.ops, ns, cluster, c.req.valid("json"));
      const shards = publicCluster(changed.cluster).shards;
      return c.json({ data: { shard: shards[shards.length - 1] } }, 201);
    })
    .get(`${base}/:shard`, validate("param", ShardParams), async (c) => {
      const { ns, cluster, shard } = c.req.valid("param");
      const found = await store.getCluster(ns, cluster);
      shardAt(found.cluster, shard);
      return c.json({ data: { shard: publicCluster(found.cluster).shards[shard] } });
    })
    .delete(`${base}/:shard`, validate("param", ShardParams), async (c) => {
      const { ns, cluster, shard } = c.req.valid("param");
      await removeShard(deps.ops, ns, cluster, shard);
      return c.body(null, 204);
    })
    .get(`${base}/:shard/nodes`, validate("param", ShardParams), async (c) => {
      const { ns, cluster, shard } = c.req.valid("param");
      const found = await store.getCluster(ns, cluster);
      return c.json({ data: { nodes: shardAt(found.cluster, shard).nodes.map(publicNode) } });
    })
    .post(
      `${base}/:shard/nodes`,
      validate("param", ShardParams),
      validate("json", AddNodeBody),
      async (c) => {
        const { ns, cluster, shard } = c.req.valid("param");
        const changed = await addNode(deps.ops, ns, cluster, shard, c.req.valid("json"));
        // Upstream answers the bare id; ours wraps it the same way.
        return c.json({ data: changed.result.id }, 201);
      },
    )
    .delete(`${base}/:shard/nodes/:id`, validate("param", NodeParams), async (c) => {
      const { ns, cluster, shard, id } = c.req.valid("param");
      await removeNode(deps.ops, ns, cluster, shard, id);
      return c.body(null, 204);
    })
    .post(`${base}/:shard/failover`, validate("param", ShardParams), async (c) => {
      const { ns, cluster, shard } = c.req.valid("param");
      const body = await optionalJsonBody(c.req, FailoverBody);
      const result = await failoverShard(deps.ops, {
        ns,
        cluster,
        shard,
        preferredNodeId: body.preferred_node_id,
        reason: "manual",
      });
      return c.json({ data: { new_master_id: result.newMasterId } });
    });
}
