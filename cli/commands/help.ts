// `kvctl help [command...]`: every command with one line, or one command's full help.
import type { Command } from "commander";
import { UsageError } from "../errors.js";
import { listed, OURS } from "./groups.js";

export const HELP_FOOTER = `
Dialects:
  Upstream kvctl commands take -n/--namespace and -c/--cluster; -s/--shard is a shard index.
  Seed commands keep the seed's flags: mkcl -cn NAME -s SHARDS -n a,b,... | -c FILE [-d],
  migdata/migslot -s SRC -t DST -l SLOTS, failover -si SHARD [-ni NODE], addshard -n ... [-d].
  Where a seed flag clashes with upstream's (mkcl and addshard: -n nodes, -c nodes file,
  -s shard count), use --namespace/--cluster, or set them once with 'kvctl use'.

Namespace and cluster:
  'kvctl use -n NS -c CL' stores the current ones in $KVCTL_CONFIG or ~/.kvctl.yaml;
  -n/-c (or --namespace/--cluster) override them for one command.

Controllers:
  -H/--host, else $KVCTL_HOST, else 'controllers:' in ~/.kvctl.yaml or the seed's
  ~/.kc_cli_config, else http://127.0.0.1:9379. Several, comma-separated: the next is tried
  when one does not answer. Token: --token or $KVCTL_TOKEN.

Output and exit codes:
  -o json|yaml prints the API's data for scripts; errors go to stderr.
  0 ok, 1 the controller said no (or a followed task failed), 2 usage, 3 no controller answered.

Run 'kvctl <command> --help' (or 'kvctl help <command>') for a command's flags.`;

function find(program: Command, words: readonly string[]): Command {
  let cmd = program;
  for (const word of words) {
    const next = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!next) throw new UsageError(`no such command: kvctl ${words.join(" ")} (see 'kvctl help')`);
    cmd = next;
  }
  return cmd;
}

export function registerHelp(program: Command): void {
  listed(program.command("help"), OURS, "help [COMMAND]")
    .argument("[command...]", "the command to explain")
    .description("List every command, or explain one")
    .action((words: string[]) => {
      find(program, words).outputHelp();
    });
}
