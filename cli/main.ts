// kvctl's entry: parse, run, and turn every outcome into an exit code.
import { CommanderError } from "commander";
import { translateSeedArgs } from "./argv.js";
import { EXIT, exitCodeOf, UsageError } from "./errors.js";
import { buildProgram } from "./program.js";

export async function main(argv: readonly string[]): Promise<number> {
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

// `kvctl list nodes | head -1`: a reader that went away is not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});
const code = await main(process.argv.slice(2));
// Let stdout drain, then leave without waiting for idle keep-alive sockets.
process.stdout.write("", () => process.exit(code));
