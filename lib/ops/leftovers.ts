// What Kvrocks 2.10 keeps from a migration after the topology moved on, and how the
// controller clears it before it gives the node slots (or sends it an import) again.
//
// A source master keeps its last migrated range write-forbidden after `success` (its
// `CLUSTER INFO` keeps `migrating_slot(s): R`, `migrating_state: success`) until it starts
// importing exactly R again (slot_migrate.cc / cluster.cc ImportSlotRange, v2.10.1); nothing
// else clears it: not a new SETNODES, not a slot-only move. A topology that gives it a slot of
// R back by any other way (a slot-only move, a data move of part of R) leaves that slot
// refusing every write with `TRYAGAIN ... write forbidden phase`, for good (seen on real
// nodes). A target keeps its last `importing_slot(s): R` / `import_state: success` lines too,
// which a later import of R would be taken for (see fold.ts `judgeMove`).
//
// Both are cleared the way a source clears them: `CLUSTER IMPORT R 0` (start: releases a
// forbidden range equal to R, drops the node's keys in R) then `CLUSTER IMPORT R 2` (failed:
// drops them again, `import_state: error`). Kvrocks refuses both for a range the node owns any
// slot of, so this never touches keys the node serves: its keys in R belong to a range it
// moved away (deleted when it applied that topology) or to an import that is not this one.
// Safe after a crash at any point: each step may be sent again.
import { errorMessage } from "../errors.js";
import { type ClusterInfo, withNode } from "../kvrocks/index.js";
import type { ClusterNode } from "../model/index.js";
import { formatSlotRange, rangesOverlap, type SlotRange } from "../slots/index.js";
import type { OpsDeps } from "./deps.js";
import { importsRange, type NodeReport, readClusterInfo } from "./fold.js";

/** The ranges `info` says the node keeps write-forbidden from a migration that succeeded. */
export function forbiddenRanges(info: ClusterInfo): SlotRange[] {
  return info.migrating?.state === "success" ? info.migrating.ranges : [];
}

/** Import start then failed for `range`: the node's leftover state for it is cleared. */
async function resetImport(deps: OpsDeps, node: ClusterNode, range: SlotRange): Promise<void> {
  // A connection of its own: Kvrocks marks it importing and acts when it closes.
  await withNode(
    node.addr,
    { password: node.password, timeoutMs: deps.nodeTimeoutMs },
    async (c) => {
      await c.clusterImport(range, 0);
      await c.clusterImport(range, 2);
    },
  );
}

export interface LeftoverOutcome {
  /** The node's CLUSTER INFO as read before anything was cleared. */
  report: NodeReport;
  /** Ranges whose leftover state was cleared. */
  cleared: string[];
  /** What could not be cleared: no answer, or a refusal (the node owns part of the range). */
  errors: string[];
  /**
   * With `freshImport`: the node keeps no import line for exactly that range that a new
   * import could be mistaken for (there was none, or it was cleared).
   */
  importClean: boolean;
}

/**
 * Before `node` (a master) is given `gives` or imports them: releases a write-forbidden range
 * it kept from an earlier migration that overlaps them, and, with `freshImport`, clears an
 * `import_state: success` it kept for exactly that range, so the next success it reports is
 * a new import's.
 */
export async function clearLeftovers(
  deps: OpsDeps,
  node: ClusterNode,
  gives: readonly SlotRange[],
  options: { freshImport?: SlotRange } = {},
): Promise<LeftoverOutcome> {
  const report = await readClusterInfo(deps, node);
  if (!report.info) return { report, cleared: [], errors: [report.error], importClean: false };
  const info = report.info;
  const stale = forbiddenRanges(info).filter((f) => gives.some((g) => rangesOverlap(f, g)));
  const fresh = options.freshImport;
  const state = info.importing?.state;
  const importStale = fresh !== undefined && importsRange(info, fresh) && state === "success";
  // A live import of the range (a former source master's link not dropped yet) is not ours
  // to cut: the caller goes on without the target's word for this attempt.
  let importClean = fresh === undefined || !importsRange(info, fresh) || state !== "start";
  if (importStale && !stale.some((f) => f.start === fresh.start && f.stop === fresh.stop)) {
    stale.push(fresh);
  }
  const cleared: string[] = [];
  const errors: string[] = [];
  for (const range of stale) {
    try {
      await resetImport(deps, node, range);
      cleared.push(formatSlotRange(range));
    } catch (err) {
      errors.push(`${formatSlotRange(range)}: ${errorMessage(err)}`);
      if (fresh && rangesOverlap(range, fresh)) importClean = false;
    }
  }
  if (cleared.length > 0) {
    deps.log.info(
      { node: node.id, addr: node.addr, ranges: cleared },
      "migration: cleared the state a node kept from an earlier migration",
    );
  }
  return { report, cleared, errors, importClean };
}
