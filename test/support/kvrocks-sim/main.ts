// Command-line entry: several simulated nodes in one process, for manual runs and for
// tools that need Kvrocks-shaped endpoints.
//   npx tsx test/support/kvrocks-sim/main.ts --count 6 --port 30001 [--host 127.0.0.1] [--password x] [--kvrocks-version V]
// Prints each node's address, then "ready"; exits cleanly on SIGINT / SIGTERM.

import { parseArgs } from "node:util";
import { type SimNodeOptions, startSimNodes, stopAll } from "./server.js";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "1" },
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    password: { type: "string" },
    "no-cluster": { type: "boolean", default: false },
    "kvrocks-version": { type: "string" },
  },
});

const count = Number(values.count);
const port = Number(values.port);
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(port) || port < 0) {
  process.stderr.write("usage: main.ts --count N --port P [--host H] [--password X]\n");
  process.exit(2);
}

const opts: SimNodeOptions = {
  port,
  host: values.host,
  clusterEnabled: !values["no-cluster"],
};
if (values.password !== undefined) opts.password = values.password;
if (values["kvrocks-version"] !== undefined) opts.kvrocksVersion = values["kvrocks-version"];

const nodes = await startSimNodes(count, opts);
for (const n of nodes) process.stdout.write(`${n.addr}\n`);
process.stdout.write("ready\n");

let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  void stopAll().then(() => process.exit(0));
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
