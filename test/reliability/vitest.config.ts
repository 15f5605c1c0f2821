// `npm run test:reliability`: the fault and load tests, one file at a time. They load both
// cores on purpose (three servers, dozens of simulated nodes, etcd members killed) and
// measure time bounds, so they must not share the machine with each other or `npm test`.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["test/reliability/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
  },
});
