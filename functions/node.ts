// `npm start`: the HTTP API on Node. Stateless; run as many as you like behind a load balancer.
import { serve } from "@hono/node-server";
import { readConfig } from "../lib/config/file.js";
import { errorMessage } from "../lib/errors.js";
import { etcdStartupFailure, openRuntime, type Runtime } from "../lib/runtime.js";
import { createApp } from "./app.js";
import { authEnabled, OPEN_API_WARNING } from "./auth.js";

async function main() {
  let config: ReturnType<typeof readConfig>;
  try {
    config = readConfig(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(`kvrocks-controller: bad configuration: ${errorMessage(err)}`);
    process.exit(2);
  }
  let runtime: Runtime;
  let app: ReturnType<typeof createApp>;
  try {
    runtime = openRuntime(config);
    app = createApp({
      ops: runtime.ops,
      auth: config.auth,
      bodyLimitBytes: config.http.bodyLimitBytes,
      allowedOrigins: config.http.allowedOrigins,
      probeFailures: config.probe.failures,
    });
  } catch (err) {
    console.error(`kvrocks-controller: ${errorMessage(err)}`);
    process.exit(1);
  }
  const failure = await etcdStartupFailure(runtime);
  if (failure) {
    console.error(`kvrocks-controller: ${failure}`);
    runtime.close();
    process.exit(1);
  }
  if (!authEnabled(config.auth)) {
    runtime.log.warn(OPEN_API_WARNING);
  }
  const server = serve(
    { fetch: app.fetch, hostname: config.http.host, port: config.http.port },
    (info) => {
      runtime.log.info(
        {
          url: `http://${config.http.host}:${info.port}`,
          etcd: config.etcd.endpoints,
          prefix: config.etcd.prefix,
        },
        `kvrocks-controller listening on http://${config.http.host}:${info.port}`,
      );
    },
  );
  server.on("error", (err) => {
    runtime.log.error(
      { error: errorMessage(err) },
      `cannot listen on ${config.http.host}:${config.http.port}: ${errorMessage(err)}`,
    );
    runtime.close();
    process.exit(1);
  });
  const shutdown = (signal: string) => {
    runtime.log.info({ signal }, "shutting down: no new connections, finishing requests in flight");
    // Stop accepting; requests in flight finish (bounded below); idle keep-alive sockets go now.
    server.close(() => {
      runtime.close();
      process.exit(0);
    });
    if ("closeIdleConnections" in server) server.closeIdleConnections();
    setTimeout(() => {
      runtime.log.warn("requests still in flight after 10 s; exiting");
      runtime.close();
      process.exit(0);
    }, 10_000).unref();
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

void main();
