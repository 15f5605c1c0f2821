// Every API route kvctl uses, in one place: paths, bodies and answer shapes.
import type { Client } from "./client.js";
import type { NodeInputJson } from "./parse.js";
import type {
  ClusterCheck,
  ClusterHealth,
  ClusterJson,
  ClusterNode,
  ClusterStats,
  CommandAnswer,
  DrainAnswer,
  FailoverRecord,
  MigrateAnswer,
  PushResult,
  ScaleAnswer,
  ShardJson,
  Task,
  UndrainAnswer,
} from "./types.js";

const seg = encodeURIComponent;

export interface MigrateBody extends MovePace {
  target: number;
  slot?: string;
  slots?: string[];
  slot_only: boolean;
  /** With slot_only: move slots the controller knows hold keys (they stay behind). */
  force?: boolean;
}

/** A data move's pace (ours): range size and the source's migration settings. */
export interface MovePace {
  max_range_slots?: number;
  speed?: number;
  batch_size_kb?: number;
  batch_rate_limit_mb?: number;
}

export interface CommandBody {
  command: string[];
  target?: "all" | "masters" | "replicas";
  node?: string;
  force?: boolean;
}

export interface ScaleBody extends MovePace {
  add_shards?: { nodes: NodeInputJson[]; password?: string }[];
  remove_shards?: number[];
  dry_run: boolean;
  slot_only?: boolean;
}

export function apiOf(client: Client) {
  const nsPath = (ns: string) => `/namespaces/${seg(ns)}`;
  const clPath = (ns: string, cl: string) => `${nsPath(ns)}/clusters/${seg(cl)}`;
  const shardPath = (ns: string, cl: string, shard: number) => `${clPath(ns, cl)}/shards/${shard}`;
  return {
    listNamespaces: () => client.get<{ namespaces: string[] }>("/namespaces"),
    createNamespace: (ns: string) =>
      client.post<{ namespace: string }>("/namespaces", { namespace: ns }),
    deleteNamespace: (ns: string) => client.delete<undefined>(nsPath(ns)),

    listClusters: (ns: string) => client.get<{ clusters: string[] }>(`${nsPath(ns)}/clusters`),
    getCluster: (ns: string, cl: string) => client.get<{ cluster: ClusterJson }>(clPath(ns, cl)),
    createCluster: (
      ns: string,
      body: { name: string; nodes: NodeInputJson[]; replicas: number; password?: string },
    ) => client.post<{ cluster: ClusterJson }>(`${nsPath(ns)}/clusters`, body),
    importCluster: (ns: string, cl: string, body: { nodes: NodeInputJson[]; password?: string }) =>
      client.post<{ cluster: ClusterJson }>(`${clPath(ns, cl)}/import`, body),
    deleteCluster: (ns: string, cl: string) => client.delete<undefined>(clPath(ns, cl)),

    listShards: (ns: string, cl: string) =>
      client.get<{ shards: ShardJson[] }>(`${clPath(ns, cl)}/shards`),
    createShard: (ns: string, cl: string, body: { nodes: NodeInputJson[]; password?: string }) =>
      client.post<{ shard: ShardJson }>(`${clPath(ns, cl)}/shards`, body),
    deleteShard: (ns: string, cl: string, shard: number) =>
      client.delete<undefined>(shardPath(ns, cl, shard)),

    listNodes: (ns: string, cl: string, shard: number) =>
      client.get<{ nodes: ClusterNode[] }>(`${shardPath(ns, cl, shard)}/nodes`),
    createNode: (
      ns: string,
      cl: string,
      shard: number,
      body: { addr: string; role: string; password?: string; zone?: string },
    ) => client.post<string>(`${shardPath(ns, cl, shard)}/nodes`, body),
    /** Ours: a replica on the shard its zone suits best. */
    addReplica: (
      ns: string,
      cl: string,
      body: { addr: string; zone?: string; password?: string },
    ) => client.post<{ shard: number; node: ClusterNode }>(`${clPath(ns, cl)}/nodes`, body),
    /** Ours: replace a node (id or address) with another; answers the task. */
    replaceNode: (
      ns: string,
      cl: string,
      node: string,
      body: { with: string; zone?: string; password?: string; force?: boolean },
    ) => client.post<{ task: Task }>(`${clPath(ns, cl)}/nodes/${seg(node)}/replace`, body),
    deleteNode: (ns: string, cl: string, shard: number, id: string) =>
      client.delete<undefined>(`${shardPath(ns, cl, shard)}/nodes/${seg(id)}`),

    failover: (ns: string, cl: string, shard: number, preferred?: string) =>
      client.post<{ new_master_id: string }>(
        `${shardPath(ns, cl, shard)}/failover`,
        preferred ? { preferred_node_id: preferred } : {},
      ),
    drainNode: (ns: string, cl: string, id: string, force: boolean) =>
      client.post<DrainAnswer>(`${clPath(ns, cl)}/nodes/${seg(id)}/drain`, { force }),
    undrainNode: (
      ns: string,
      cl: string,
      id: string,
      body: { restore_master: boolean; wait_ms: number; max_lag: number },
    ) => client.post<UndrainAnswer>(`${clPath(ns, cl)}/nodes/${seg(id)}/undrain`, body),
    setPassword: (ns: string, cl: string, body: { password: string; force: boolean }) =>
      client.put<{ nodes: number; resumed: boolean }>(`${clPath(ns, cl)}/password`, body),
    migrate: (ns: string, cl: string, body: MigrateBody) =>
      client.post<MigrateAnswer>(`${clPath(ns, cl)}/migrate`, body),
    sync: (ns: string, cl: string, force: boolean) =>
      client.post<{ results: PushResult[] }>(`${clPath(ns, cl)}/sync`, { force }),
    syncNode: (ns: string, cl: string, node: string, force: boolean) =>
      client.post<{ results: PushResult[] }>(`${clPath(ns, cl)}/sync`, { node, force }),
    check: (ns: string, cl: string) =>
      client.get<{ check: ClusterCheck }>(`${clPath(ns, cl)}/check`),
    command: (ns: string, cl: string, body: CommandBody) =>
      client.post<CommandAnswer>(`${clPath(ns, cl)}/commands`, body),
    scale: (ns: string, cl: string, body: ScaleBody) =>
      client.post<ScaleAnswer>(`${clPath(ns, cl)}/scale`, body),

    health: (ns: string, cl: string) => client.get<ClusterHealth>(`${clPath(ns, cl)}/health`),
    stats: (ns: string, cl: string) => client.get<ClusterStats>(`${clPath(ns, cl)}/stats`),
    failovers: (ns: string, cl: string) =>
      client.get<{ failovers: FailoverRecord[] }>(`${clPath(ns, cl)}/failovers`),

    listTasks: (ns: string, cl: string) => client.get<{ tasks: Task[] }>(`${clPath(ns, cl)}/tasks`),
    getTask: (ns: string, cl: string, id: string) =>
      client.get<{ task: Task }>(`${clPath(ns, cl)}/tasks/${seg(id)}`),
    cancelTask: (ns: string, cl: string, id: string) =>
      client.delete<{ task: Task }>(`${clPath(ns, cl)}/tasks/${seg(id)}`),
  };
}

export type Api = ReturnType<typeof apiOf>;
