// AWS Lambda entry for scheduled events (EventBridge): one probe round, then return.
import { readConfig } from "../lib/config/file.js";
import {
  formatSummary,
  probeAllClusters,
  runSettingsFrom,
  summaryFields,
} from "../lib/probe/index.js";
import { openRuntime } from "../lib/runtime.js";

const config = readConfig([], process.env);
const runtime = openRuntime(config);
const settings = runSettingsFrom(config);

export async function handler() {
  const summary = await probeAllClusters({ ...runtime.ops, etcd: runtime.etcd }, settings);
  runtime.log.info(summaryFields(summary), formatSummary(summary));
  return {
    clusters: summary.clusters,
    probed: summary.probed,
    skipped: summary.skipped,
    failovers: summary.failovers,
    repairs: summary.repairs,
    errors: summary.errors,
  };
}
