// The upstream kvctl verbs (`list`, `create`, ...) that resource files hang subcommands on.
import type { Command } from "commander";
import { listed, OURS, UPSTREAM } from "./groups.js";

export interface Verbs {
  list: Command;
  get: Command;
  create: Command;
  delete: Command;
  import: Command;
  migrate: Command;
  sync: Command;
  scale: Command;
  cancel: Command;
  drain: Command;
  undrain: Command;
  set: Command;
}

const verbs: [keyof Verbs, string, string, string][] = [
  ["list", "RESOURCE", "List namespaces, clusters, shards, nodes, tasks or failovers", UPSTREAM],
  ["get", "RESOURCE", "Show a cluster, its health or live stats, or a task", UPSTREAM],
  [
    "create",
    "namespace|cluster|shard|node",
    "Create a namespace, cluster, shard or node",
    UPSTREAM,
  ],
  [
    "delete",
    "namespace|cluster|shard|node",
    "Delete a namespace, cluster, shard or node",
    UPSTREAM,
  ],
  ["import", "cluster NAME --nodes ...", "Take over a running Kvrocks cluster", UPSTREAM],
  [
    "migrate",
    "slot S|A-B --target IDX",
    "Move slots, with their data unless --slot-only",
    UPSTREAM,
  ],
  ["sync", "cluster|node [--force]", "Push the stored topology to every node, or one, now", OURS],
  ["scale", "out|in", "Add or remove shards; slots and data move to match", OURS],
  ["cancel", "task ID", "Cancel a queued or running migration task", OURS],
  ["drain", "node ID [--force]", "Take a node out of service for maintenance", OURS],
  ["undrain", "node ID [--restore-master]", "Return a drained node to service", OURS],
  ["set", "password", "Rotate the cluster's node password (read from stdin)", OURS],
];

export function addVerbs(program: Command): Verbs {
  const out = {} as Verbs;
  for (const [name, term, description, group] of verbs) {
    const cmd = listed(program.command(name).description(description), group, `${name} ${term}`);
    cmd.commandsGroup("Resources:").helpCommand(false);
    out[name] = cmd;
  }
  return out;
}
