// `npm start`: the HTTP API on Node. Stateless; run as many as you like behind a load balancer.
import { serve } from "@hono/node-server";
import { readConfig } from "../lib/config/file.js";
import { errorMessage } from "../lib/errors.js";
import { openRuntime } from "../lib/runtime.js";
import { createApp } from "./app.js";
import { authEnabled } from "./auth.js";

function main() {
  let config: ReturnType<typeof readConfig>;
  try {
    config = readConfig(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(`kvrocks-controller: bad configuration: ${errorMessage(err)}`);
    process.exit(2);
  }
  const runtime = openRuntime(config);
  const app = createApp({
    ops: runtime.ops,
    auth: config.auth,
    bodyLimitBytes: config.http.bodyLimitBytes,
    probeFailures: config.probe.failures,
  });
  if (!authEnabled(config.auth)) {
    console.warn(
      "kvrocks-controller: WARNING: no API tokens configured (KVC_API_TOKENS); the API is open to anyone who can reach it",
    );
  }
  const server = serve(
    { fetch: app.fetch, hostname: config.http.host, port: config.http.port },
    (info) => {
      console.log(
        `kvrocks-controller listening on http://${config.http.host}:${info.port} (etcd ${config.etcd.endpoints.join(",")}, prefix ${config.etcd.prefix})`,
      );
    },
  );
  server.on("error", (err) => {
    console.error(
      `kvrocks-controller: cannot listen on ${config.http.host}:${config.http.port}: ${errorMessage(err)}`,
    );
    runtime.close();
    process.exit(1);
  });
  const shutdown = () => {
    server.close(() => {
      runtime.close();
      process.exit(0);
    });
    // In-flight requests get a bounded time to finish.
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}

main();
