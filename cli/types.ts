// The shapes kvctl reads from the API. Cluster types are the model's (type-only import: no
// code from lib/ runs here); the rest mirrors the server's answers.
import type {
  ClusterHealth,
  ClusterJson,
  ClusterNode,
  FailoverRecord,
  NodeHealthView as NodeHealth,
  ShardJson,
} from "../lib/model/index.js";

import type { ClusterCheck, NodeCommandResult } from "../lib/ops/index.js";

export type {
  ClusterCheck,
  ClusterHealth,
  ClusterJson,
  ClusterNode,
  FailoverRecord,
  NodeHealth,
  ShardJson,
};

/** POST .../commands: each node's reply or error. */
export interface CommandAnswer {
  command: string;
  results: NodeCommandResult[];
}

export type TaskState = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface Task {
  id: string;
  /** `remove_shards` ends a scale-in, once its moves succeeded (absent: a migration). */
  kind?: "migrate" | "remove_shards" | "replace_node";
  state: TaskState;
  source: number;
  target: number;
  ranges: string[];
  /** The ranges that reached the target (absent from older controllers). */
  done?: string[];
  /** The most slots one range holds (absent or null: uncut). */
  max_range_slots?: number | null;
  /** The range in flight takes writes faster than the source copies it. */
  not_converging?: {
    range: string;
    range_writes_per_s: number;
    copy_keys_per_s: number;
  } | null;
  in_flight: string | null;
  slots_done: number;
  slots_total: number;
  error: string | null;
  /** Cancelled while a range was in flight: it stops once that range ends. */
  cancel_requested?: boolean;
  created_at: number | string | null;
  started_at: number | string | null;
  finished_at: number | string | null;
  /** The last error of a step that will be tried again. */
  last_error?: string | null;
  /** Ours: a replace_node task's nodes and step. */
  replace?: {
    old_addr: string;
    new_addr: string;
    step: string;
    waiting?: string | null;
    switch_attempts?: number;
  } | null;
}

export const FINISHED: readonly TaskState[] = ["succeeded", "failed", "cancelled"];

export interface PushResult {
  id: string;
  addr: string;
  ok: boolean;
  error?: string;
}

export interface ScalePlan {
  moves: { source: number; target: number; ranges: string[]; slots: number }[];
  add_shards: number;
  remove_shards: number[];
  /** Ours: the added shards' nodes as placed by zone. */
  placement?: {
    shard: number;
    nodes: { addr: string; zone: string | null; role: string }[];
  }[];
}

/** POST .../scale: the plan; the queued tasks unless a dry run; the cluster if slot-only. */
export interface ScaleAnswer {
  plan: ScalePlan;
  tasks?: Task[];
  cluster?: ClusterJson;
}

/** POST .../migrate: a task for data migrations, the cluster for slot-only ones. */
export interface MigrateAnswer {
  task?: Task;
  cluster?: ClusterJson;
}

export type { ClusterStats, NodeStats } from "../lib/ops/stats.js";

/** POST .../nodes/{id}/drain. */
export interface DrainAnswer {
  node_id: string;
  shard: number;
  drained: boolean;
  /** A drained master: the replica it was switched over to. */
  new_master_id: string | null;
  version: number;
}

/** POST .../nodes/{id}/undrain. */
export interface UndrainAnswer {
  node_id: string;
  shard: number;
  drained: boolean;
  /** Writes (sequence) behind its master when found caught up. */
  lag: number;
  restored_master: boolean;
  version: number;
}
