// Maintenance: `drain node ID [--force]`, `undrain node ID [--restore-master] [--wait 60s]`,
// `set password [--from-file PATH]` (the password is read from a file or stdin, never argv:
// a command line shows in `ps` and the shell's history).
import { readFileSync } from "node:fs";
import { run } from "../context.js";
import { ApiError, UsageError } from "../errors.js";
import type { ClusterJson, ClusterNode } from "../types.js";
import { findNode, withCluster } from "./scope.js";
import type { Verbs } from "./verbs.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** By id (or unique prefix), or by `host:port`: a hook knows its node's address, not its id. */
function nodeOf(cluster: ClusterJson, idOrAddr: string): ClusterNode {
  if (idOrAddr.includes(":")) {
    const node = cluster.shards.flatMap((s) => s.nodes).find((n) => n.addr === idOrAddr);
    if (!node) throw new ApiError(404, `no node at ${idOrAddr} in cluster ${cluster.name}`);
    return node;
  }
  return findNode(cluster, idOrAddr).node;
}

/** The first line of the file (or stdin), without its line ending. */
function readPassword(path: string | undefined): string {
  let text: string;
  try {
    text = readFileSync(path ?? 0, "utf8");
  } catch (err) {
    throw new UsageError(
      `cannot read the password from ${path ?? "stdin"}: ${(err as Error).message}`,
    );
  }
  return text.split(/\r?\n/)[0] ?? "";
}

export function registerMaintenance(verbs: Verbs): void {
  withCluster(verbs.drain.command("node"))
    .argument("<node>", "node id (or unique prefix), or its host:port")
    .description(
      "Drain a node for maintenance: a master is switched over first; the probe then leaves it alone",
    )
    .option("--force", "a master with no caught-up replica: promote the best one anyway")
    .action(
      run<{ force?: boolean }>(async (ctx, opts, [id]) => {
        const { ns, cl } = ctx.scope(opts);
        const { cluster } = await ctx.api.getCluster(ns, cl);
        const node = nodeOf(cluster, id!);
        const data = await ctx.api.drainNode(ns, cl, node.id, Boolean(opts.force));
        ctx.out.result(
          data,
          () =>
            `node ${node.addr} drained` +
            (data.new_master_id
              ? ` (shard ${data.shard} switched over to ${data.new_master_id})`
              : ""),
        );
      }),
    );

  withCluster(verbs.undrain.command("node"))
    .argument("<node>", "node id (or unique prefix), or its host:port")
    .description("Undrain a node once it has caught up with its master")
    .option("--restore-master", "switch it back to master (planned switchover) afterwards")
    .option("--wait <seconds>", "keep asking until it has caught up, up to this many seconds", "60")
    .option("--max-lag <n>", "caught up: at most this many writes behind its master", "10000")
    .action(
      run<{ restoreMaster?: boolean; wait: string; maxLag: string }>(async (ctx, opts, [id]) => {
        const { ns, cl } = ctx.scope(opts);
        const { cluster } = await ctx.api.getCluster(ns, cl);
        const node = nodeOf(cluster, id!);
        const maxLag = Number(opts.maxLag);
        if (!Number.isInteger(maxLag) || maxLag < 0)
          throw new UsageError(`--max-lag: a whole number of writes, not "${opts.maxLag}"`);
        const waitSeconds = Number(opts.wait);
        if (!Number.isFinite(waitSeconds) || waitSeconds < 0)
          throw new UsageError(`--wait: a number of seconds, not "${opts.wait}"`);
        const deadline = Date.now() + waitSeconds * 1000;
        for (;;) {
          const left = Math.max(0, deadline - Date.now());
          try {
            const data = await ctx.api.undrainNode(ns, cl, node.id, {
              restore_master: Boolean(opts.restoreMaster),
              // Within one request's deadline; the loop asks again until --wait is spent.
              wait_ms: Math.max(0, Math.min(left, ctx.settings.timeoutMs - 2000, 10_000)),
              max_lag: maxLag,
            });
            ctx.out.result(
              data,
              () =>
                `node ${node.addr} undrained (${data.lag} writes behind)` +
                (data.restored_master ? `; master of shard ${data.shard} again` : ""),
            );
            return;
          } catch (err) {
            // 409: not caught up yet. Anything else, or the time is up: the answer stands.
            if (!(err instanceof ApiError && err.status === 409) || Date.now() >= deadline)
              throw err;
            if (/not caught up/.test(err.message)) ctx.out.info(err.message);
            else throw err;
            await sleep(500);
          }
        }
      }),
    );

  withCluster(verbs.set.command("password"))
    .description(
      "Rotate the password of every node of the cluster and store it (read from stdin or --from-file)",
    )
    .option("--from-file <path>", "read the new password from the file's first line")
    .option("--force", "replace a rotation to another password that did not finish")
    .action(
      run<{ fromFile?: string; force?: boolean }>(async (ctx, opts) => {
        const { ns, cl } = ctx.scope(opts);
        const password = readPassword(opts.fromFile);
        const data = await ctx.api.setPassword(ns, cl, { password, force: Boolean(opts.force) });
        ctx.out.result(
          data,
          () =>
            `password rotated on ${data.nodes} node(s)${data.resumed ? " (finished an earlier run)" : ""}`,
        );
      }),
    );
}
