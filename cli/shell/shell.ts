// `kvctl` with no command: the seed's interactive shell. The prompt shows where you are
// (`/`, `/ns/`, `/ns/cluster/`); `ls`, `cd` and `rm` move through and remove namespaces and
// clusters; every kvctl command and the seed's shell commands run against that location.
// Reading from a pipe, it runs each line with no prompt and exits with the first failure's code.
import { appendFileSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface, type Interface } from "node:readline";
import { type Ctx, contextFor, shellLocation } from "../context.js";
import { EXIT, exitCodeOf, UsageError } from "../errors.js";
import { namesView, tasksView } from "../format/views.js";
import { buildProgram } from "../program.js";
import { runCommand } from "../run.js";
import {
  migrateTaskStates,
  SEED_SHELL_COMMANDS,
  SHELL_BUILTINS,
  splitWords,
  translateShellCommand,
} from "./words.js";

const HISTORY_SIZE = 1000;

export function historyPath(env = process.env): string {
  return join(env.HOME || homedir(), ".kvctl_history");
}

function readHistory(path: string): string[] {
  try {
    // readline wants the newest first.
    return readFileSync(path, "utf8").split("\n").filter(Boolean).slice(-HISTORY_SIZE).reverse();
  } catch {
    return [];
  }
}

export function promptOf(location: { namespace?: string; cluster?: string }): string {
  if (!location.namespace) return "/> ";
  if (!location.cluster) return `/${location.namespace}/> `;
  return `/${location.namespace}/${location.cluster}/> `;
}

const HELP = `Moving around:
  ls                      namespaces at /, clusters in a namespace, the cluster in a cluster
  cd NAME | cd .. | cd /  enter a namespace or cluster (cd ns/cluster, cd /ns also work)
  rm                      delete the namespace or cluster you are in (asks first on a terminal)
  help, quit, exit        (Ctrl-D leaves too)

The seed's commands, against where you are:
  create_namespace NAME          create_cluster -cn NAME -s N -n NODES [-d]
  show_cluster                   show_failover_tasks pending|history
  show_migrate_tasks doing|pending|history   (showm)
  sync_topo_to_cluster           sync_topo_to_node -n ADDR
  send_command_to_cluster CMD ARGS...        send_command_to_node ADDR CMD ARGS...
  add_shard -n NODES [-d]        del_shard -s IDX
  add_node ADDR -s IDX           del_node ID [-s IDX]
  failover -si IDX [-ni ID]      migrate_slot_and_data | migrate_slot_only -s SRC -t DST -l SLOTS
  mkns, mkcl, showcluster, migdata, migslot (the short forms)

Every kvctl command works here too, without -n/-c: kvctl help lists them.`;

interface Shell {
  ctx: Ctx;
  globals: string[];
  rl: Interface;
  interactive: boolean;
  /** Cached names and node ids for Tab, refreshed on a miss. */
  names: Map<string, string[]>;
}

async function namesAt(shell: Shell, ns?: string): Promise<string[]> {
  const key = ns ?? "/";
  const cached = shell.names.get(key);
  if (cached) return cached;
  const names = ns
    ? (await shell.ctx.api.listClusters(ns)).clusters
    : (await shell.ctx.api.listNamespaces()).namespaces;
  shell.names.set(key, names);
  return names;
}

async function nodeWords(shell: Shell): Promise<string[]> {
  const { namespace: ns, cluster: cl } = shellLocation;
  if (!ns || !cl) return [];
  const key = `/${ns}/${cl}/nodes`;
  const cached = shell.names.get(key);
  if (cached) return cached;
  const { cluster } = await shell.ctx.api.getCluster(ns, cl);
  const words = cluster.shards.flatMap((s) => s.nodes.flatMap((n) => [n.addr, n.id]));
  shell.names.set(key, words);
  return words;
}

const PROGRAM_COMMANDS = (() => {
  const program = buildProgram({ writeOut: () => {}, writeErr: () => {} });
  return program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
})();

export const COMMAND_WORDS = [
  ...new Set([...SHELL_BUILTINS, ...SEED_SHELL_COMMANDS, ...PROGRAM_COMMANDS]),
].sort();

async function completions(shell: Shell, line: string): Promise<[string[], string]> {
  const words = line.split(/\s+/);
  const current = words[words.length - 1] ?? "";
  const match = (list: string[]) => list.filter((w) => w.startsWith(current));
  if (words.length <= 1) return [match(COMMAND_WORDS), current];
  try {
    if (words[0] === "cd") {
      // cd ns/cl: complete the part after the last slash.
      const slash = current.lastIndexOf("/");
      const parent = current.slice(0, slash + 1);
      const leaf = current.slice(slash + 1);
      let ns = shellLocation.namespace;
      if (parent.startsWith("/")) ns = parent.length > 1 ? parent.slice(1, -1) : undefined;
      else if (parent) ns = parent.slice(0, -1);
      if (shellLocation.cluster && !parent) return [[], current];
      const names = (await namesAt(shell, ns)).filter((n) => n.startsWith(leaf));
      return [names.map((n) => `${parent}${n}`), current];
    }
    const nodes = await nodeWords(shell);
    const names = shellLocation.cluster ? [] : await namesAt(shell, shellLocation.namespace);
    return [match([...nodes, ...names]), current];
  } catch {
    return [[], current];
  }
}

async function changeDirectory(shell: Shell, target: string | undefined): Promise<void> {
  let ns = shellLocation.namespace;
  let cl = shellLocation.cluster;
  if (target === undefined || target === "/" || target === "~") {
    ns = undefined;
    cl = undefined;
    target = "";
  } else if (target.startsWith("/")) {
    ns = undefined;
    cl = undefined;
  }
  for (const part of (target ?? "").split("/").filter(Boolean)) {
    if (part === ".") continue;
    if (part === "..") {
      if (cl) cl = undefined;
      else ns = undefined;
    } else if (!ns) ns = part;
    else if (!cl) cl = part;
    else throw new UsageError(`cd: ${part}: a cluster has nothing to cd into`);
  }
  // Only somewhere that exists: the API answers 404 otherwise.
  if (ns && cl) await shell.ctx.api.getCluster(ns, cl);
  else if (ns) await shell.ctx.api.listClusters(ns);
  shellLocation.namespace = ns;
  shellLocation.cluster = cl;
}

function list(shell: Shell): Promise<number> {
  const { namespace: ns, cluster: cl } = shellLocation;
  if (ns && cl) return runCommand([...shell.globals, "showcluster"]);
  return (async () => {
    const out = shell.ctx.out;
    if (ns) {
      const data = await shell.ctx.api.listClusters(ns);
      shell.names.set(ns, data.clusters);
      out.result(data, () => namesView(data.clusters, "cluster"));
    } else {
      const data = await shell.ctx.api.listNamespaces();
      shell.names.set("/", data.namespaces);
      out.result(data, () => namesView(data.namespaces, "namespace"));
    }
    return EXIT.ok;
  })();
}

function ask(rl: Interface, question: string): Promise<boolean> {
  return new Promise((resolve) =>
    rl.question(question, (a) => resolve(/^y(es)?$/i.test(a.trim()))),
  );
}

async function remove(shell: Shell): Promise<number> {
  const { namespace: ns, cluster: cl } = shellLocation;
  if (!ns)
    throw new UsageError("rm: at / there is nothing to remove; cd into a namespace or cluster");
  const what = cl ? `cluster ${ns}/${cl} (its nodes are not touched)` : `namespace ${ns}`;
  if (shell.interactive && !(await ask(shell.rl, `delete ${what}? [y/N] `))) {
    process.stdout.write("nothing deleted\n");
    return EXIT.ok;
  }
  if (cl) await shell.ctx.api.deleteCluster(ns, cl);
  else await shell.ctx.api.deleteNamespace(ns);
  shell.names.clear();
  process.stdout.write(`deleted ${what}\n`);
  if (cl) shellLocation.cluster = undefined;
  else shellLocation.namespace = undefined;
  return EXIT.ok;
}

async function showMigrateTasks(shell: Shell, states: string[]): Promise<number> {
  const { ns, cl } = shell.ctx.scope({});
  const { tasks } = await shell.ctx.api.listTasks(ns, cl);
  const shown = tasks.filter((t) => states.includes(t.state));
  shell.ctx.out.result({ tasks: shown }, () => tasksView(shown));
  return EXIT.ok;
}

/** Runs one line; answers its exit code (0 for an empty line). */
async function runLine(shell: Shell, line: string): Promise<number | "quit"> {
  let words: string[];
  try {
    words = splitWords(line);
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    return EXIT.usage;
  }
  const [first, ...rest] = words;
  if (first === undefined || first.startsWith("#")) return EXIT.ok;
  try {
    switch (first) {
      case "quit":
      case "exit":
        return "quit";
      case "help":
        if (rest.length > 0) return runCommand([...shell.globals, "help", ...rest]);
        process.stdout.write(`${HELP}\n`);
        return EXIT.ok;
      case "ls":
        return await list(shell);
      case "cd":
        await changeDirectory(shell, rest[0]);
        return EXIT.ok;
      case "rm":
        return await remove(shell);
      case "show_failover_tasks":
        if ((rest[0] ?? "history") === "pending") {
          process.stdout.write("no pending failover tasks: a failover runs at once\n");
          return EXIT.ok;
        }
        break;
    }
    const states = migrateTaskStates(words);
    if (states) return await showMigrateTasks(shell, states);
    const argv = translateShellCommand(words) ?? words;
    const code = await runCommand([...shell.globals, ...argv]);
    // A change may have added or removed names: Tab asks again.
    shell.names.clear();
    return code;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`error: ${message}\n`);
    return exitCodeOf(err);
  }
}

export async function runShell(globals: readonly string[]): Promise<number> {
  const program = buildProgram({
    writeOut: (t) => process.stdout.write(t),
    writeErr: (t) => process.stderr.write(t),
  });
  try {
    program.parseOptions([...globals]);
  } catch {
    return EXIT.usage;
  }
  const ctx = contextFor(program);
  const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  shellLocation.active = true;
  const history = historyPath();
  const shell: Shell = {
    ctx,
    globals: [...globals],
    interactive,
    names: new Map(),
    rl: createInterface({
      input: process.stdin,
      output: interactive ? process.stdout : undefined,
      terminal: interactive,
      history: interactive ? readHistory(history) : [],
      historySize: HISTORY_SIZE,
      removeHistoryDuplicates: true,
      completer: interactive
        ? (line: string, callback: (err: null, result: [string[], string]) => void) => {
            completions(shell, line).then((r) => callback(null, r));
          }
        : undefined,
      prompt: "",
    }),
  };
  const prompt = () => {
    if (!interactive) return;
    shell.rl.setPrompt(promptOf(shellLocation));
    shell.rl.prompt();
  };

  let firstFailure = 0;
  prompt();
  for await (const line of shell.rl) {
    if (interactive && line.trim() !== "") {
      try {
        appendFileSync(history, `${line}\n`, { mode: 0o600 });
      } catch {
        // No history is no reason to stop.
      }
    }
    shell.rl.pause();
    const code = await runLine(shell, line);
    if (code === "quit") break;
    if (code !== 0 && firstFailure === 0) firstFailure = code;
    shell.rl.resume();
    prompt();
  }
  shell.rl.close();
  if (interactive) process.stdout.write("\n");
  return interactive ? EXIT.ok : firstFailure;
}
