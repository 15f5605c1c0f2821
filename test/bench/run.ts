// `npm run bench`: every benchmark, one table each. Numbers, not pass/fail.
import { benchApi } from "./api.js";
import { benchClient, benchClientFailover } from "./client.js";
import { benchDownAfter } from "./down-after.js";
import { benchMetrics } from "./metrics.js";
import { benchMigration } from "./migration.js";
import { benchOwnership } from "./ownership.js";
import { benchProbe } from "./probe.js";

const benches: [string, () => Promise<void>][] = [
  ["api", benchApi],
  ["probe", benchProbe],
  ["down-after", benchDownAfter],
  ["ownership", benchOwnership],
  ["migration", benchMigration],
  ["metrics", benchMetrics],
  ["client", benchClient],
  ["client-failover", benchClientFailover],
];
const only = process.argv.slice(2);

for (const [name, run] of benches) {
  if (only.length > 0 && !only.includes(name)) continue;
  await run();
}
process.exit(0);
