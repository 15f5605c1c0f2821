// The API's answers as the console reads them (JSON on the wire: slot ranges are strings).
import type { ClusterHealth, FailoverRecord, NodeRole, Task } from "../../../lib/model/index.js";
import type { NodeStats } from "../../../lib/model/stats.js";

export type { ClusterHealth, FailoverRecord, NodeStats };
export type NodeHealth = ClusterHealth["nodes"][number];

export interface NodeJson {
  id: string;
  addr: string;
  role: NodeRole;
  created_at?: number;
  /** Drained for maintenance since (ms); absent when in service. */
  drained_at?: number;
}

export interface ShardJson {
  nodes: NodeJson[];
  slot_ranges: string[];
  migrating_slot: string | null;
  target_shard_index: number;
}

export interface ClusterJson {
  name: string;
  version: number;
  shards: ShardJson[];
}

/** Tasks are answered as stored: the model's type is the wire's. */
export type TaskJson = Task;

export interface PushResult {
  id: string;
  addr: string;
  ok: boolean;
  error?: string;
}

export interface Move {
  source: number;
  target: number;
  ranges: string[];
  slots: number;
}

export interface ScalePlan {
  moves: Move[];
  add_shards?: number;
  remove_shards?: number[];
}

/** A secondary read that failed: shown in place instead of failing the page. */
export interface Failed {
  failed: string;
}

export type Soft<T> = T | Failed;

export const isFailed = <T extends object>(value: Soft<T> | null | undefined): value is Failed =>
  !!value && "failed" in value;
