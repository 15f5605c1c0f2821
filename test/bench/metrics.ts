// Scrape cost (issues 9 and 18): /metrics over 100 clusters read from etcd, and every one of
// their 600 simulated nodes' INFO, at scrape time.
import { createApp } from "../../functions/app.js";
import { benchEnv, header, row, simCluster, stats } from "./setup.js";

export async function benchMetrics() {
  const b = await benchEnv();
  try {
    const app = createApp({
      ops: b.runtime.ops,
      auth: { tokens: [], readonlyTokens: [] },
      bodyLimitBytes: 1 << 20,
      probeFailures: 3,
    });
    for (let i = 0; i < 100; i++) await simCluster(b, "m", `c${i}`, 6, 2);
    const scrape = async (rounds: number) => {
      const times: number[] = [];
      let size = 0;
      for (let r = 0; r < rounds; r++) {
        const t = performance.now();
        const res = await app.request("/metrics");
        size = (await res.text()).length;
        times.push(performance.now() - t);
      }
      return { s: stats(times.slice(2)), size };
    };
    const { s, size } = await scrape(20);
    header("metrics");
    row(
      "scrape /metrics, 100 clusters × 6 sim nodes (INFO each), median / p99",
      `${s.median.toFixed(1)} / ${s.p99.toFixed(1)} ms (${Math.round(size / 1024)} KiB)`,
      "≤ 500 ms",
      s.p99 <= 500,
    );
    // One node accepts and never answers: it holds one lane for one node timeout.
    b.nodes[0]?.setFault({ hang: true });
    const timeout = b.runtime.ops.nodeTimeoutMs;
    const hung = await scrape(5);
    b.nodes[0]?.setFault({ hang: false });
    row(
      "same, one node hung, median / p99",
      `${hung.s.median.toFixed(1)} / ${hung.s.p99.toFixed(1)} ms (node timeout ${timeout} ms)`,
      `≤ ${timeout + 500} ms`,
      hung.s.p99 <= timeout + 500,
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
