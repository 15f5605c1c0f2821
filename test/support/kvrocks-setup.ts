// test:kvrocks only: the binary KVROCKS_BIN names must run and be Kvrocks, or nothing runs.
import { spawnSync } from "node:child_process";

export default function setup() {
  const bin = process.env.KVROCKS_BIN ?? "";
  const run = spawnSync(bin, ["--version"], { encoding: "utf8", timeout: 10_000 });
  const out = `${run.stdout ?? ""}${run.stderr ?? ""}`;
  if (run.error || run.status !== 0 || !/kvrocks version/i.test(out)) {
    throw new Error(
      `KVROCKS_BIN=${bin} does not run as Kvrocks (${run.error?.message ?? `exit ${run.status}`}): ${out.trim().slice(0, 200)}`,
    );
  }
  console.log(`test:kvrocks on ${out.trim().split("\n")[0]} (${bin})`);
}
