// kvctl's entry: with a command, run it; with none, the interactive shell (or, reading from a
// pipe, each line of it as a command).
import { commandIndex } from "./argv.js";
import { runCommand } from "./run.js";
import { runShell } from "./shell/shell.js";

export async function main(argv: readonly string[]): Promise<number> {
  const asksForHelp = argv.some((a) => ["-h", "--help", "-V", "--version"].includes(a));
  if (commandIndex(argv) === -1 && !asksForHelp) return runShell(argv);
  return runCommand(argv);
}

// `kvctl list nodes | head -1`: a reader that went away is not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});
const code = await main(process.argv.slice(2));
// Let stdout drain, then leave without waiting for idle keep-alive sockets.
process.stdout.write("", () => process.exit(code));
