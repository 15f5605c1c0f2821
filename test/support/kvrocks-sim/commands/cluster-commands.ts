// CLUSTER and CLUSTERX, parsed and executed as Kvrocks's cmd_cluster.cc: argument errors
// first (even on a node without cluster mode), then "Cluster mode is not enabled", then
// admin rights, then the cluster's own checks.

import { setTimeout as delay } from "node:timers/promises";
import { parseCInt, parseCIntInRange } from "../c-int.js";
import type { ImportState } from "../cluster.js";
import {
  clusterInfoText,
  clusterNodesText,
  clusterReplicasText,
  clusterSlotsReply,
} from "../cluster-views.js";
import { CommandError, errorOf } from "../errors.js";
import { keySlot } from "../keyslot.js";
import type { MigrationWaiter } from "../migration.js";
import type { KvrocksNode } from "../node.js";
import { bulkString, errorReply, integerReply, nullBulk, simpleString } from "../resp.js";
import { parseSlotRangesArg, type SlotRange } from "../slot-range.js";
import { NODE_ID_LEN } from "../topology.js";
import { type CommandContext, type CommandSpec, lower, type Reply } from "./types.js";

/**
 * How long Kvrocks 2.10.1 would hold a SETNODES that promotes this replica: its master died
 * at `lostAt`, its replication thread sleeps 1 s from then and between reconnects, checks its
 * stop flag only in between, and a 100 ms timer ends its loop (measured: 60–100 ms past the
 * whole second). 0 when the node is not such a replica or the option is off.
 */
function replicaStopWait(node: KvrocksNode, nodesText: string): number {
  const lostAt = node.repl.lostAt;
  if (!node.config.replicaStopSleeps || !node.isSlave() || lostAt === null) return 0;
  const mine = nodesText
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .find(([id, host, port]) =>
      node.cluster.myid
        ? id === node.cluster.myid
        : host === node.config.host && Number(port) === node.config.port,
    );
  if (mine?.[3] !== "master") return 0;
  const now = Date.now();
  const seconds = Math.max(1, Math.ceil((now - lostAt) / 1000));
  return lostAt + seconds * 1000 + 70 - now;
}

const OK = () => simpleString("OK");

function requireClusterAdmin(ctx: CommandContext): void {
  if (!ctx.node.config.clusterEnabled) throw errorOf("Cluster mode is not enabled");
  if (!ctx.session.admin) throw errorOf("admin permission required to perform the command");
}

const IMPORT_STATES: (ImportState | null)[] = ["start", "success", "failed", null];

const cluster: CommandSpec = {
  name: "cluster",
  arity: -2,
  prepare: (ctx) => {
    const a = ctx.argv;
    const sub = lower(a[1]);
    const run = (fn: () => Reply) => () => {
      requireClusterAdmin(ctx);
      return fn();
    };
    const c = () => ctx.node.cluster;
    if (a.length === 2 && sub === "info") return run(() => bulkString(clusterInfoText(ctx.node)));
    if (a.length === 2 && sub === "nodes") return run(() => bulkString(clusterNodesText(ctx.node)));
    if (a.length === 2 && sub === "slots") return run(() => clusterSlotsReply(ctx.node));
    if (sub === "reset" && (a.length === 2 || a.length === 3)) {
      if (a.length === 3 && lower(a[2]) !== "hard" && lower(a[2]) !== "soft") {
        throw errorOf("syntax error");
      }
      return run(() => {
        c().reset();
        ctx.node.persistTopology(true);
        return OK();
      });
    }
    if (sub === "keyslot" && a.length === 3) {
      return run(() => integerReply(keySlot(ctx.args[2]!)));
    }
    if (sub === "import") {
      if (a.length !== 4) throw errorOf("wrong number of arguments");
      const range = parseSlotRangesArg(a[2]!)[0]!;
      const state = parseCIntInRange(a[3]!, "uint32", 0, 3);
      if (!state.ok) throw errorOf("Invalid import state");
      return run(() => {
        const s = IMPORT_STATES[Number(state.value)] ?? null;
        if (s === null) throw errorOf("Invalid import state");
        c().importSlotRange(range, s, ctx.session);
        return OK();
      });
    }
    if (sub === "replicas" && a.length === 3) {
      return run(() => bulkString(clusterReplicasText(ctx.node, a[2]!)));
    }
    throw errorOf("CLUSTER command, CLUSTER INFO|NODES|SLOTS|KEYSLOT|RESET|REPLICAS");
  },
};

const CLUSTERX_USAGE = "CLUSTERX command, CLUSTERX VERSION|MYID|SETNODEID|SETNODES|SETSLOT|MIGRATE";

const clusterx: CommandSpec = {
  name: "clusterx",
  arity: -2,
  prepare: (ctx) => {
    const a = ctx.argv;
    const sub = lower(a[1]);
    const run = (fn: () => Reply) => () => {
      requireClusterAdmin(ctx);
      return fn();
    };
    const node = ctx.node;

    if (a.length === 2 && sub === "version") {
      // Kvrocks answers the version as a bulk string, not an integer.
      return run(() => bulkString(String(node.cluster.version)));
    }
    if (a.length === 2 && sub === "myid") return run(() => bulkString(node.cluster.myid));
    if (sub === "setnodeid" && a.length === 3 && ctx.args[2]!.length === NODE_ID_LEN) {
      return run(() => {
        node.cluster.setNodeId(a[2]!);
        node.persistTopology();
        return OK();
      });
    }
    if (sub === "migrate") return prepareMigrate(ctx, run);
    if (sub === "setnodes" && a.length >= 4) {
      const version = parseCInt(a[3]!, "int64");
      if (!version.ok) throw errorOf("Invalid version");
      let force = false;
      if (a.length === 5 && lower(a[4]) === "force") force = true;
      else if (a.length !== 4) throw errorOf("Invalid setnodes options");
      const apply = run(() => {
        node.cluster.setClusterNodes(a[2]!, Number(version.value), force);
        node.persistTopology();
        return OK();
      });
      return () => {
        const wait = replicaStopWait(node, a[2]!);
        return wait > 0 ? delay(wait).then(apply) : apply();
      };
    }
    if (sub === "setslot" && a.length === 6) {
      const ranges = parseSlotRangesArg(a[2]!);
      if (lower(a[3]) !== "node") throw errorOf("Invalid setslot options");
      if (ctx.args[4]!.length !== NODE_ID_LEN) throw errorOf("Invalid node id");
      const version = parseCInt(a[5]!, "int64");
      if (!version.ok) throw errorOf("value is not an integer or out of range");
      if (version.value < 0n) throw errorOf("Invalid version");
      return run(() => {
        node.cluster.setSlotRanges(ranges, a[4]!, Number(version.value));
        node.persistTopology();
        return OK();
      });
    }
    throw errorOf(CLUSTERX_USAGE);
  },
};

function prepareMigrate(ctx: CommandContext, run: (fn: () => Reply) => () => Reply) {
  const a = ctx.argv;
  if (a.length < 4 || a.length > 6) throw errorOf("wrong number of arguments");
  const range: SlotRange = parseSlotRangesArg(a[2]!)[0]!;
  const dstId = a[3]!;
  let sync = false;
  let timeoutSecs = 0;
  if (a.length >= 5) {
    const mode = lower(a[4]);
    if (mode === "async") {
      if (a.length === 6) throw errorOf("Async migration does not support timeout");
    } else if (mode === "sync") {
      sync = true;
      if (a.length === 6) {
        const t = parseCInt(a[5]!, "int32");
        if (!t.ok) throw errorOf("timeout is not an integer or out of range");
        if (t.value < 0n) throw errorOf("timeout is negative");
        timeoutSecs = Number(t.value);
      }
    } else {
      throw errorOf("Invalid sync flag");
    }
  }
  return run(() => {
    const node = ctx.node;
    const dst = node.cluster.checkMigrate(range, dstId);
    if (!sync) {
      node.migrator.perform(dstId, dst.host, dst.port, range);
      return OK();
    }
    // Blocking form: the reply comes when the migration ends (nil on timeout).
    let settle: (reply: Buffer) => void = () => {};
    const done = new Promise<Buffer>((resolve) => {
      settle = resolve;
    });
    let timer: NodeJS.Timeout | undefined;
    const waiter: MigrationWaiter = (error) => {
      clearTimeout(timer);
      settle(error === null ? OK() : errorReply(new CommandError("ERR", error).line));
    };
    node.migrator.perform(dstId, dst.host, dst.port, range, waiter);
    if (timeoutSecs > 0) {
      timer = setTimeout(() => {
        node.migrator.cancelWaiter();
        settle(nullBulk());
      }, timeoutSecs * 1000);
    }
    return done;
  });
}

export const clusterCommands: CommandSpec[] = [cluster, clusterx];
