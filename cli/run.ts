// One kvctl command line, parsed and run in this process; every outcome becomes an exit code.
// The entry (main.ts) runs one; the shell runs one per line.
import { CommanderError } from "commander";
import { translateSeedArgs } from "./argv.js";
import { EXIT, exitCodeOf, UsageError } from "./errors.js";
import { buildProgram } from "./program.js";

export async function runCommand(argv: readonly string[]): Promise<number> {
  const program = buildProgram({
    writeOut: (text) => process.stdout.write(text),
    writeErr: (text) => process.stderr.write(text),
  });
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.ok;
  }
  try {
    await program.parseAsync(translateSeedArgs(argv), { from: "user" });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message (or the help) already.
      const fine = ["commander.helpDisplayed", "commander.version"].includes(err.code);
      return fine ? EXIT.ok : EXIT.usage;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`error: ${message}\n`);
    if (err instanceof UsageError) process.stderr.write("(see 'kvctl help')\n");
    else if (!(err instanceof Error) || err.name === "TypeError") {
      process.stderr.write(`${(err as Error)?.stack ?? ""}\n`);
    }
    return exitCodeOf(err);
  }
}
