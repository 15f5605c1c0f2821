// kvctl's pure parts: seed flag translation, parsing, tables, progress.
import { describe, expect, it } from "vitest";
import { commandIndex, translateSeedArgs } from "../../cli/argv.js";
import { normalizeController } from "../../cli/config.js";
import { UsageError } from "../../cli/errors.js";
import { ProgressReporter, progressBar, progressLine } from "../../cli/format/progress.js";
import { table } from "../../cli/format/table.js";
import { parseNodes, parseSlots, slotTexts } from "../../cli/parse.js";

describe("seed flags", () => {
  it("rewrites the seed's multi-letter flags for the seed's commands only", () => {
    expect(translateSeedArgs(["mkcl", "-cn", "c1", "-s", "2", "-n", "a:1,b:1", "-d"])).toEqual([
      "mkcl",
      "--cluster-name",
      "c1",
      "-s",
      "2",
      "-n",
      "a:1,b:1",
      "-d",
    ]);
    expect(
      translateSeedArgs(["-H", "x", "mkcl", "--clustername=c1", "-shard", "2", "-do"]),
    ).toEqual(["-H", "x", "mkcl", "--cluster-name", "c1", "--shards", "2", "--do"]);
    expect(translateSeedArgs(["failover", "-si", "1", "-ni", "abc"])).toEqual([
      "failover",
      "--shard-index",
      "1",
      "--node-id",
      "abc",
    ]);
    expect(translateSeedArgs(["migdata", "--sourceIdx", "0", "-targetIdx=1", "-l", "5"])).toEqual([
      "migdata",
      "--source",
      "0",
      "--target",
      "1",
      "-l",
      "5",
    ]);
    // Upstream commands keep commander's meaning: `-cn` is `-c n`.
    expect(translateSeedArgs(["get", "cluster", "-cn"])).toEqual(["get", "cluster", "-cn"]);
    expect(translateSeedArgs(["mkcl", "--", "-cn"])).toEqual(["mkcl", "--", "-cn"]);
  });

  it("finds the command word after global options", () => {
    expect(commandIndex(["-o", "json", "--host", "h", "-v", "mkcl"])).toBe(5);
    expect(commandIndex(["-v"])).toBe(-1);
  });
});

describe("parsing", () => {
  it("parses slot lists and refuses bad ones as usage errors", () => {
    expect(slotTexts(parseSlots("0-4095, 8192,100-100", "-l"))).toEqual(["0-4095", "8192", "100"]);
    for (const bad of ["", "5-1", "16384", "a", "1-2-3"]) {
      expect(() => parseSlots(bad, "-l")).toThrow(UsageError);
    }
  });

  it("splits node lists on commas and whitespace", () => {
    expect(parseNodes(["a:1,b:2", " c:3  d:4 "])).toEqual(["a:1", "b:2", "c:3", "d:4"]);
  });

  it("normalizes controller addresses", () => {
    expect(normalizeController("10.0.0.1:9379")).toBe("http://10.0.0.1:9379");
    expect(normalizeController("https://kvc.example/api/v1/")).toBe("https://kvc.example");
  });
});

describe("formatting", () => {
  it("aligns tables and marks missing values", () => {
    expect(
      table(
        ["a", "long name"],
        [
          [1, null],
          ["wide value", "x"],
        ],
      ),
    ).toBe("A            LONG NAME\n1            -\nwide value   x");
  });

  it("renders progress as a bar on a terminal and as lines otherwise", () => {
    const p = { state: "running", done: 1024, total: 4096, range: "1024-2047", elapsedMs: 12_300 };
    // A quarter done in 12.3 s: three quarters left at that pace.
    expect(progressLine("task t1", p)).toBe(
      "task t1: running, 1024/4096 slots (25%), range 1024-2047, elapsed 12.3s, ETA 36.9s",
    );
    expect(progressBar("task t1", p)).toBe(
      `task t1  running  [${"#".repeat(8)}${"-".repeat(22)}]  1024/4096 slots 25%  range 1024-2047  12.3s  ETA 36.9s`,
    );
    expect(progressLine("task t1", { ...p, chunks: { done: 4, total: 16 } })).toBe(
      "task t1: running, 1024/4096 slots (25%), 4/16 ranges, range 1024-2047, elapsed 12.3s, ETA 36.9s",
    );
    const written: string[] = [];
    const lines = new ProgressReporter({ write: (t: string) => written.push(t) }, "t");
    lines.update(p);
    lines.update({ ...p, elapsedMs: 13_000 });
    lines.update({ ...p, done: 2048 });
    expect(written).toHaveLength(2);
    const tty: string[] = [];
    const bar = new ProgressReporter({ write: (t: string) => tty.push(t), isTTY: true }, "t");
    bar.update(p);
    bar.update({ ...p, elapsedMs: 13_000 });
    bar.finish();
    expect(tty).toHaveLength(3);
    expect(tty[0]).toMatch(/^\r\x1b\[2Kt {2}running/);
    expect(tty[2]).toBe("\n");
  });
});
