// AWS Lambda entry: the same app behind API Gateway. One runtime per warm container.
import { handle } from "hono/aws-lambda";
import { readConfig } from "../lib/config/file.js";
import { openRuntime } from "../lib/runtime.js";
import { createApp } from "./app.js";

const config = readConfig([], process.env);
const runtime = openRuntime(config);

export const handler = handle(
  createApp({
    ops: runtime.ops,
    auth: config.auth,
    bodyLimitBytes: config.http.bodyLimitBytes,
    probeFailures: config.probe.failures,
  }),
);
