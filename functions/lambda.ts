// AWS Lambda entry: the same app behind API Gateway. One runtime per warm container.
import { handle } from "hono/aws-lambda";
import { readConfig } from "../lib/config/file.js";
import { etcdStartupFailure, openRuntime } from "../lib/runtime.js";
import { createApp } from "./app.js";
import { authEnabled, OPEN_API_WARNING } from "./auth.js";

const config = readConfig([], process.env);
const runtime = openRuntime(config);
// Once per container, as `npm start` says it once per process.
if (!authEnabled(config.auth)) runtime.log.warn(OPEN_API_WARNING);

// Checked once per container: a TLS failure fails every invocation with its one line.
const startupFailure = etcdStartupFailure(runtime);

const serve = handle(
  createApp({
    ops: runtime.ops,
    auth: config.auth,
    bodyLimitBytes: config.http.bodyLimitBytes,
    allowedOrigins: config.http.allowedOrigins,
    // API Gateway finds the API by the Host it is sent (its own or a custom domain's name).
    hostGuarded: true,
    probeFailures: config.probe.failures,
  }),
);

export const handler: typeof serve = async (event, context) => {
  const failure = await startupFailure;
  if (failure) throw new Error(failure);
  return serve(event, context);
};
