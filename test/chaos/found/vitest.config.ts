// Violations the fault campaign found that are not fixed yet, each as a focused test that
// fails on the current code. Not in any suite (npm test, test:kvrocks): run them by hand,
//   KVROCKS_BIN=/path/to/kvrocks npx vitest run --config test/chaos/found/vitest.config.ts
// (without KVROCKS_BIN on the simulator). A test moves into its suite with its fix.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../../..", import.meta.url)),
    include: ["test/chaos/found/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
  },
});
