// Scrape cost (issue 9): /metrics over 100 clusters read from etcd at scrape time.
import { createApp } from "../../functions/app.js";
import { planCluster } from "../../lib/ops/index.js";
import { benchEnv, header, row, stats } from "./setup.js";

export async function benchMetrics() {
  const b = await benchEnv();
  try {
    const app = createApp({
      ops: b.runtime.ops,
      auth: { tokens: [], readonlyTokens: [] },
      bodyLimitBytes: 1 << 20,
      probeFailures: 3,
    });
    await b.runtime.store.createNamespace("m");
    for (let i = 0; i < 100; i++) {
      const nodes = Array.from({ length: 6 }, (_, j) => `10.0.${i}.${j + 1}:6666`);
      await b.runtime.store.createCluster(
        "m",
        planCluster({ name: `c${i}`, nodes, replicas: 2, password: "" }, Date.now()),
      );
    }
    const times: number[] = [];
    let size = 0;
    for (let r = 0; r < 20; r++) {
      const t = performance.now();
      const res = await app.request("/metrics");
      size = (await res.text()).length;
      times.push(performance.now() - t);
    }
    const s = stats(times.slice(2));
    header("metrics");
    row(
      "scrape /metrics, 100 clusters × 6 nodes, median / p99",
      `${s.median.toFixed(1)} / ${s.p99.toFixed(1)} ms (${Math.round(size / 1024)} KiB)`,
      "≤ 200 ms",
      s.p99 <= 200,
    );
  } finally {
    await b.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchMetrics().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
