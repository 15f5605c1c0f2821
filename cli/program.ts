// kvctl's command tree: global flags, the upstream verbs, the seed's commands, ours.
import { Command, Help } from "commander";
import pkg from "../package.json" with { type: "json" };
import { registerClusters } from "./commands/clusters.js";
import { registerFailover } from "./commands/failover.js";
import { helpTerms } from "./commands/groups.js";
import { registerHealth } from "./commands/health.js";
import { HELP_FOOTER, registerHelp } from "./commands/help.js";
import { registerMaintenance } from "./commands/maintenance.js";
import { registerMigrate } from "./commands/migrate.js";
import { registerNamespaces } from "./commands/namespaces.js";
import { registerNodes } from "./commands/nodes.js";
import { registerOperate } from "./commands/operate.js";
import { registerReplace } from "./commands/replace.js";
import { registerScale } from "./commands/scale.js";
import { registerSeed } from "./commands/seed.js";
import { registerShards } from "./commands/shards.js";
import { registerStats } from "./commands/stats.js";
import { registerSync } from "./commands/sync.js";
import { registerTasks } from "./commands/tasks.js";
import { registerUse } from "./commands/use.js";
import { addVerbs } from "./commands/verbs.js";

export interface ProgramIO {
  writeOut: (text: string) => void;
  writeErr: (text: string) => void;
}

export function buildProgram(io: ProgramIO): Command {
  const program = new Command("kvctl")
    .description(
      "The command line of kvrocks-controller: operate Kvrocks clusters over its HTTP API",
    )
    .usage("<command> [flags]")
    .version(pkg.version, "-V, --version", "print kvctl's version")
    .option("-H, --host <urls>", "controller URL(s), comma-separated, tried in order")
    .option("--token <token>", "API token (default: $KVCTL_TOKEN)")
    .option("-o, --output <format>", "table, json or yaml", "table")
    .option("--timeout <seconds>", "per-request timeout in seconds (default: 15)")
    .option("-v, --verbose", "report controllers that did not answer")
    .helpOption("-h, --help", "show help")
    .helpCommand(false)
    .exitOverride()
    .showSuggestionAfterError()
    .configureOutput({ writeOut: io.writeOut, writeErr: io.writeErr })
    .configureHelp({
      showGlobalOptions: true,
      helpWidth: Math.max(process.stdout.columns ?? 0, 100),
      sortSubcommands: false,
      subcommandTerm: (cmd) => helpTerms.get(cmd) ?? new Help().subcommandTerm(cmd),
    })
    .addHelpText("after", HELP_FOOTER);

  const verbs = addVerbs(program);
  registerNamespaces(verbs);
  registerClusters(verbs);
  registerShards(verbs);
  registerNodes(verbs);
  registerMigrate(verbs);
  registerFailover(program);
  registerHealth(verbs);
  registerStats(verbs, program);
  registerTasks(verbs);
  registerScale(verbs);
  registerSync(verbs);
  registerReplace(program);
  registerOperate(program, verbs);
  registerMaintenance(verbs);
  registerSeed(program);
  registerUse(program);
  registerHelp(program);
  return program;
}
