// One kvctl invocation's argv to its exit code: with a command, run it; with none, the
// interactive shell (or, reading from a pipe, each line of it as a command). No side effects
// at import, so the entry (main.ts) and the CLI tests, which run kvctl in their own process,
// share it.
import { commandIndex } from "./argv.js";
import { runCommand } from "./run.js";
import { runShell } from "./shell/shell.js";

export async function kvctl(argv: readonly string[]): Promise<number> {
  const asksForHelp = argv.some((a) => ["-h", "--help", "-V", "--version"].includes(a));
  if (commandIndex(argv) === -1 && !asksForHelp) return runShell(argv);
  return runCommand(argv);
}
