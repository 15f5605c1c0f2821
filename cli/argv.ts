// The seed's flags, as its urfave/cli parsed them (`-cn NAME`, `-si 1`, `--clustername=x`),
// rewritten into the long flags kvctl's parser knows, for the seed's commands only: in upstream
// commands `-cn` keeps meaning `-c n`.

/** Per seed command: the seed's multi-letter flag names (lower case) → kvctl's long flag. */
const SEED_FLAGS: Record<string, Record<string, string>> = {
  mkcl: {
    cn: "--cluster-name",
    clustername: "--cluster-name",
    shard: "--shards",
    nodes: "--nodes",
    config: "--nodes-file",
    do: "--do",
  },
  addshard: { shard: "--shards", nodes: "--nodes", config: "--nodes-file", do: "--do" },
  migdata: { sourceidx: "--source", targetidx: "--target", slots: "--slots" },
  migslot: { sourceidx: "--source", targetidx: "--target", slots: "--slots" },
  failover: {
    si: "--shard-index",
    shardidx: "--shard-index",
    ni: "--node-id",
    nodeid: "--node-id",
  },
};

/** Global options that take a value, so the command word is found after them. */
const GLOBAL_WITH_VALUE = new Set(["-H", "--host", "-o", "--output", "--token", "--timeout"]);

export function commandIndex(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") return -1;
    if (GLOBAL_WITH_VALUE.has(arg)) i++;
    else if (!arg.startsWith("-")) return i;
  }
  return -1;
}

function rewrite(arg: string, flags: Record<string, string>): string[] {
  const match = /^--?([A-Za-z][A-Za-z-]+)(=(.*))?$/.exec(arg);
  if (!match) return [arg];
  const long = flags[match[1]!.toLowerCase()];
  if (!long) return [arg];
  return match[2] === undefined ? [long] : [long, match[3]!];
}

export function translateSeedArgs(argv: readonly string[]): string[] {
  const at = commandIndex(argv);
  const flags = at === -1 ? undefined : SEED_FLAGS[argv[at]!];
  if (!flags) return [...argv];
  const out = argv.slice(0, at + 1);
  for (let i = at + 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      out.push(...argv.slice(i));
      break;
    }
    out.push(...rewrite(arg, flags));
  }
  return out;
}
