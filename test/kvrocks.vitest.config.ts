// `npm run test:kvrocks`: the suites that touch Kvrocks nodes, on real nodes of the binary
// KVROCKS_BIN names (`KVROCKS_BIN=/path/to/kvrocks npm run test:kvrocks`).
// Without KVROCKS_BIN it says so and exits non-zero; a binary that does not run fails the
// global setup. One file at a time: each starts its own Kvrocks processes.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

if (!process.env.KVROCKS_BIN) {
  console.error(
    "test:kvrocks needs a Kvrocks binary: KVROCKS_BIN=/path/to/kvrocks npm run test:kvrocks\n" +
      "(npm test runs the same suites on the simulator)",
  );
  process.exit(2);
}

export default defineConfig({
  test: {
    root: fileURLToPath(new URL("..", import.meta.url)),
    include: [
      "test/support/nodes.test.ts",
      "test/sim/agreement.test.ts",
      "test/api/cluster-lifecycle.test.ts",
      "test/api/commands-security.test.ts",
      "test/api/node-ownership.test.ts",
      "test/api/drain.test.ts",
      "test/api/password-rotation.test.ts",
      "test/probe/failover.test.ts",
      "test/probe/repair.test.ts",
      "test/probe/empty-replica.test.ts",
      "test/probe/switchover.test.ts",
      "test/probe/rolling-upgrade.test.ts",
      "test/probe/failover-safety.test.ts",
      "test/probe/down-after.test.ts",
      "test/probe/quorum.test.ts",
      "test/probe/error-replies.test.ts",
      "test/probe/empty-restart.test.ts",
      "test/probe/safe-mode.test.ts",
      "test/probe/monotonic-clock.test.ts",
      "test/migration/data.test.ts",
      "test/migration/scale.test.ts",
      "test/migration/crash.test.ts",
      "test/migration/acked-writes.test.ts",
      "test/migration/leftovers.test.ts",
      "test/migration/push-window.test.ts",
      "test/migration/chunks.test.ts",
      "test/kvrocks/**/*.test.ts",
      "test/deploy/local-stack.test.ts",
      "test/ui/console.test.ts",
      "test/api/zones.test.ts",
      "test/probe/zone-failover.test.ts",
      "test/probe/replace.test.ts",
    ],
    globalSetup: ["test/support/kvrocks-setup.ts", "test/support/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
  },
});
