// `npm run chaos -- --seed S --minutes M [--nodes real|sim] [--quorum 1|2] [--rate N]`: one
// campaign (test/chaos/campaign.ts). Exits 1 when an invariant was violated, printing the
// seed, the invariant and the timeline around it; 2 on bad arguments. --nodes real needs
// KVROCKS_BIN.
import { runCampaign } from "./campaign.js";
import { INVARIANTS } from "./timeline.js";

function parse(argv: string[]) {
  const opts = {
    seed: Date.now() % 2 ** 31,
    minutes: 1,
    nodes: "real" as "real" | "sim",
    quorum: 1,
    rate: 200,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    const num = () => {
      const n = Number(value);
      if (value === undefined || !Number.isFinite(n) || n < 0)
        throw new Error(`${flag} needs a number`);
      i++;
      return n;
    };
    if (flag === "--seed") opts.seed = Math.floor(num());
    else if (flag === "--minutes") opts.minutes = num();
    else if (flag === "--rate") opts.rate = num();
    else if (flag === "--quorum") {
      opts.quorum = num();
      if (opts.quorum !== 1 && opts.quorum !== 2) throw new Error("--quorum is 1 or 2");
    } else if (flag === "--nodes") {
      if (value !== "real" && value !== "sim") throw new Error("--nodes is real or sim");
      opts.nodes = value;
      i++;
    } else
      throw new Error(
        `unknown option ${flag} (--seed S --minutes M --nodes real|sim --quorum 1|2 --rate N)`,
      );
  }
  if (opts.nodes === "real" && !process.env.KVROCKS_BIN) {
    throw new Error("--nodes real needs KVROCKS_BIN=/path/to/kvrocks (or use --nodes sim)");
  }
  return opts;
}

async function main(): Promise<number> {
  let opts: ReturnType<typeof parse>;
  try {
    opts = parse(process.argv.slice(2));
  } catch (err) {
    console.error(`chaos: ${(err as Error).message}`);
    return 2;
  }
  const result = await runCampaign(opts);
  const lines = [
    "",
    `chaos: seed ${result.seed}, ${opts.minutes} min, nodes ${opts.nodes}, quorum ${opts.quorum}, ${(result.elapsedMs / 1000).toFixed(0)} s in all`,
    `  faults: ${JSON.stringify(result.faults)}`,
    `  operations: ${JSON.stringify(result.ops)}`,
    `  answers: ${JSON.stringify(result.opAnswers)}`,
    `  writes acknowledged ${result.acked}, failed ${result.writeErrors}, lost within a killed master's lag ${result.lostTolerated}`,
    `  failovers seen in etcd ${result.failovers}, probe invocations started ${result.probeStarts}`,
    `  documented exceptions (docs/safety.md P2, counted apart): ${result.exceptions.length}${result.exceptions.length > 0 ? `, windows ${result.exceptions.map((e) => e.windowMs).join("/")} ms, ${result.exceptions.reduce((n, e) => n + e.accepted, 0)} checker writes accepted, ${result.exceptions.reduce((n, e) => n + e.lostWrites, 0)} client writes lost in them` : ""}`,
    ...result.exceptions.map(
      (e) =>
        `    ${e.kind} ${e.addr}: ${(e.from / 1000).toFixed(3)}s-${(e.until / 1000).toFixed(3)}s, window ${e.windowMs} ms, ${e.accepted} checker writes, ${e.lostWrites} client writes lost`,
    ),
    `  violations: ${result.violations.length}`,
  ];
  for (const v of result.violations) {
    lines.push(
      "",
      `VIOLATION of invariant ${v.invariant} (${INVARIANTS[v.invariant]}) at ${(v.t / 1000).toFixed(3)}s, seed ${result.seed}:`,
      `  ${v.what}`,
      "  timeline around it:",
      ...v.around.map((l) => `    ${l}`),
      `  reproduce: npm run chaos -- --seed ${result.seed} --minutes ${opts.minutes} --nodes ${opts.nodes} --quorum ${opts.quorum}`,
    );
  }
  console.log(lines.join("\n"));
  return result.violations.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`chaos: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
