// The receiving side of a slot migration (Kvrocks's SlotImport): driven by the source's
// CLUSTER IMPORT calls; reported in CLUSTER INFO as importing_slot(s) / import_state.

import { errorOf } from "./errors.js";
import type { KvrocksNode } from "./node.js";
import {
  formatRange,
  isValidRange,
  NO_RANGE,
  rangeContains,
  type SlotRange,
  sameRange,
} from "./slot-range.js";

type Status = "none" | "start" | "success" | "error";

export class SlotImport {
  private status: Status = "none";
  private range: SlotRange = NO_RANGE;

  constructor(private readonly node: KvrocksNode) {}

  start(range: SlotRange): void {
    if (this.status === "start") {
      if (sameRange(this.range, range)) return;
      throw errorOf(
        `only one importing job is allowed, current importing: ${formatRange(this.range)}`,
      );
    }
    // Leftovers of an earlier attempt must not mix with the incoming keys.
    this.clearKeys(range);
    this.status = "start";
    this.range = range;
  }

  success(range: SlotRange): void {
    this.requireSame(range);
    this.node.cluster.setSlotRangeImported(this.range);
    this.status = "success";
  }

  fail(range: SlotRange): void {
    this.requireSame(range);
    this.clearKeys(range);
    this.status = "error";
  }

  /** The source's link closed while importing: drop what came (unless now a replica). */
  stopForLinkError(): void {
    if (this.status !== "start") return;
    if (!this.node.isSlave()) this.clearKeys(this.range);
    this.status = "error";
  }

  /** The range being imported right now, NO_RANGE otherwise. */
  activeRange(): SlotRange {
    return this.status === "start" ? this.range : NO_RANGE;
  }

  info(): string {
    if (!isValidRange(this.range)) return "";
    return `importing_slot(s): ${formatRange(this.range)}\r\nimport_state: ${this.status}\r\n`;
  }

  private requireSame(range: SlotRange): void {
    if (!sameRange(this.range, range)) {
      throw errorOf(
        `mismatch slot, importing slot(s): ${formatRange(this.range)}, but got: ${formatRange(range)}`,
      );
    }
  }

  private clearKeys(range: SlotRange): void {
    this.node.store.deleteSlots((s) => rangeContains(range, s));
  }
}
