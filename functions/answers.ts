// The shapes the API answers, as zod schemas: the OpenAPI document is generated from them and
// the OpenAPI test checks real answers against them, so the document cannot drift.
import { z } from "zod";
import {
  Cluster,
  ClusterHealth,
  FailoverRecord,
  NodeRole,
  Shard,
  Task,
} from "../lib/model/index.js";

const data = <T extends z.ZodType>(schema: T) => z.object({ data: schema });

export const ErrorAnswer = z.object({
  error: z.object({ message: z.string(), field: z.string().optional() }),
});

// Stored clusters carry parsed slot ranges; on the wire they are strings, as in etcd. Made when
// the OpenAPI document is first asked for: converting is a few milliseconds of every cold start.
let wireSchemas: { cluster: z.core.JSONSchema.BaseSchema; shard: z.core.JSONSchema.BaseSchema };
export function wireJsonSchemas() {
  wireSchemas ??= {
    cluster: z.toJSONSchema(Cluster, { io: "input", unrepresentable: "any" }),
    shard: z.toJSONSchema(Shard, { io: "input", unrepresentable: "any" }),
  };
  return wireSchemas;
}

const clusterRef = z.custom<unknown>().meta({ $ref: "#/components/schemas/Cluster" });
const shardRef = z.custom<unknown>().meta({ $ref: "#/components/schemas/Shard" });

export const PushResult = z.object({
  id: z.string(),
  addr: z.string(),
  ok: z.boolean(),
  error: z.string().optional(),
});

export const Move = z.object({
  source: z.number().int(),
  target: z.number().int(),
  ranges: z.array(z.string()),
  slots: z.number().int(),
});

export const answers = {
  namespaces: data(z.object({ namespaces: z.array(z.string()) })),
  namespace: data(z.object({ namespace: z.string() })),
  clusters: data(z.object({ clusters: z.array(z.string()) })),
  cluster: data(z.object({ cluster: clusterRef })),
  shards: data(z.object({ shards: z.array(shardRef) })),
  shard: data(z.object({ shard: shardRef })),
  nodes: data(
    z.object({ nodes: z.array(z.object({ id: z.string(), addr: z.string(), role: NodeRole })) }),
  ),
  nodeId: data(z.string().length(40)),
  failover: data(z.object({ new_master_id: z.string() })),
  sync: data(z.object({ results: z.array(PushResult) })),
  health: data(ClusterHealth),
  failovers: data(z.object({ failovers: z.array(FailoverRecord) })),
  tasks: data(z.object({ tasks: z.array(Task) })),
  task: data(z.object({ task: Task })),
  /** A data migration queued: its task, and the cluster as upstream answers it. */
  migration: data(z.object({ task: Task, cluster: clusterRef })),
  scale: data(
    z.object({
      plan: z.object({ moves: z.array(Move) }).passthrough(),
      tasks: z.array(Task),
      cluster: clusterRef.optional(),
    }),
  ),
  status: data(z.object({ status: z.string() })),
  /** Who the request's token speaks for, and what it may do (GET /api/v1/token). */
  token: data(
    z.object({
      name: z.string(),
      role: z.enum(["admin", "write", "read"]),
      /** null: every namespace. */
      namespaces: z.array(z.string()).nullable(),
      read_only: z.boolean(),
      may_manage_namespaces: z.boolean(),
    }),
  ),
};
