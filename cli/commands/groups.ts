// How `kvctl help` groups and names commands.
import type { Command } from "commander";

export const UPSTREAM = "Commands (upstream kvctl):";
export const SEED = "Seed commands:";
export const OURS = "More commands:";

/** The term `kvctl help` shows for a command, when commander's own would say too little. */
export const helpTerms = new WeakMap<Command, string>();

export function listed(cmd: Command, group: string, term: string): Command {
  helpTerms.set(cmd, term);
  return cmd.helpGroup(group);
}

/** Examples at the end of a command's --help. */
export function examples(cmd: Command, ...lines: string[]): Command {
  return cmd.addHelpText("after", `\nExamples:\n${lines.map((l) => `  ${l}`).join("\n")}`);
}
