// The shell's line handling that needs no terminal: splitting a line into words, and the
// seed's shell commands rewritten as kvctl command lines.
import { UsageError } from "../errors.js";

/** Words as a shell splits them: whitespace separates, '...' and "..." quote, \ escapes. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === "\\" && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === "\\" && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote) throw new UsageError(`unclosed ${quote} quote`);
  if (inWord) words.push(word);
  return words;
}

/** The seed's shell commands → kvctl's; the rest of the words follow unchanged. */
const SEED_SHELL: Record<string, string[]> = {
  create_namespace: ["mkns"],
  create_cluster: ["mkcl"],
  show_cluster: ["showcluster"],
  add_shard: ["addshard"],
  del_shard: ["delete", "shard"],
  add_node: ["create", "node"],
  del_node: ["delete", "node"],
  migrate_slot_and_data: ["migdata"],
  migrate_slot_only: ["migslot"],
  show_failover_tasks: [],
  show_migrate_tasks: [],
  showm: [],
};

export const SHELL_BUILTINS = ["ls", "cd", "rm", "help", "quit", "exit"];
export const SEED_SHELL_COMMANDS = [
  ...Object.keys(SEED_SHELL),
  "failover",
  "sync_topo_to_cluster",
  "sync_topo_to_node",
  "send_command_to_cluster",
  "send_command_to_node",
];

/** Flags the seed's shell commands take that kvctl spells otherwise. */
function seedShardFlag(words: string[]): string[] {
  // del_shard -s 2 / -si 2, add_node ADDR -s 2: kvctl's -s / --shard.
  return words.map((w) => (w === "-si" || w === "--shardidx" ? "-s" : w));
}

/** kvctl argv for a seed shell command, or null when the words are kvctl's own. */
export function translateShellCommand(words: readonly string[]): string[] | null {
  const [name, ...rest] = words;
  if (name === undefined) return null;
  const target = SEED_SHELL[name];
  if (target === undefined) return null;
  if (name === "del_shard") {
    // The seed took the index as -s IDX; kvctl takes it as an argument.
    const flag = rest.findIndex((w) => w === "-s" || w === "-si" || w === "--shardidx");
    if (flag !== -1 && rest[flag + 1] !== undefined) {
      const index = rest[flag + 1]!;
      return [...target, index, ...rest.filter((_, i) => i !== flag && i !== flag + 1)];
    }
  }
  if (name === "show_failover_tasks") {
    const which = rest[0] ?? "history";
    if (which !== "pending" && which !== "history") {
      throw new UsageError("show_failover_tasks pending|history");
    }
    return ["list", "failovers", ...rest.slice(1)];
  }
  if (name === "show_migrate_tasks" || name === "showm") {
    const which = rest[0] ?? "doing";
    if (!["doing", "pending", "history"].includes(which)) {
      throw new UsageError(`${name} doing|pending|history`);
    }
    return ["list", "tasks", ...rest.slice(1)];
  }
  return [...target, ...seedShardFlag(rest)];
}

/** Task states each of show_migrate_tasks's words shows. */
export function migrateTaskStates(words: readonly string[]): string[] | null {
  if (words[0] !== "show_migrate_tasks" && words[0] !== "showm") return null;
  const which = words[1] ?? "doing";
  if (which === "doing") return ["running"];
  if (which === "pending") return ["queued"];
  return ["succeeded", "failed", "cancelled"];
}
