// kvctl's entry: with a command, run it; with none, the interactive shell (or, reading from a
// pipe, each line of it as a command).
import { kvctl } from "./dispatch.js";

// `kvctl list nodes | head -1`: a reader that went away is not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});
const code = await kvctl(process.argv.slice(2));
// Let stdout drain, then leave without waiting for idle keep-alive sockets.
process.stdout.write("", () => process.exit(code));
