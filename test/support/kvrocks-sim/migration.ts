// The sending side of a slot migration (Kvrocks's SlotMigrator). The real node streams a
// snapshot and then the WAL to the target; here the keys of the range are copied in one
// step after `migrationDelayMs`, which is what an observer can tell apart anyway. The
// target is driven through its own command path (AUTH, CLUSTER IMPORT) like the real link.

import { errorOf } from "./errors.js";
import type { KvrocksNode } from "./node.js";
import { lookupNode } from "./registry.js";
import { newSession, type Session } from "./session.js";
import {
  formatRange,
  isValidRange,
  NO_RANGE,
  rangeContains,
  rangesOverlap,
  type SlotRange,
} from "./slot-range.js";

type MigrationState = "none" | "start" | "success" | "fail";

/** Called once with null (success) or the error text, for CLUSTERX MIGRATE ... sync. */
export type MigrationWaiter = (error: string | null) => void;

interface Link {
  target: KvrocksNode;
  bootId: number;
  session: Session;
}

export class SlotMigrator {
  /** The range being migrated now (NO_RANGE when idle). */
  slotRange: SlotRange = NO_RANGE;
  /** Writes refused here; stays set after success, as in Kvrocks. */
  forbiddenRange: SlotRange = NO_RANGE;
  failedRange: SlotRange = NO_RANGE;
  state: MigrationState = "none";
  dstNode = "";
  private dstHost = "";
  private dstPort = 0;
  private link: Link | null = null;
  private timer: NodeJS.Timeout | null = null;
  private waiter: MigrationWaiter | null = null;

  constructor(private readonly node: KvrocksNode) {}

  perform(dstId: string, host: string, port: number, range: SlotRange, waiter?: MigrationWaiter) {
    if (isValidRange(this.slotRange)) throw errorOf("There is already a migrating job");
    if (rangesOverlap(range, this.forbiddenRange)) {
      throw errorOf("Can't migrate slot which has been migrated");
    }
    this.state = "start";
    this.slotRange = range;
    this.dstNode = dstId;
    this.dstHost = host;
    this.dstPort = port;
    this.waiter = waiter ?? null;
    this.startMigration();
  }

  cancelWaiter(): void {
    this.waiter = null;
  }

  releaseForbiddenRange(): void {
    this.forbiddenRange = NO_RANGE;
  }

  info(): string {
    if (
      !isValidRange(this.slotRange) &&
      !isValidRange(this.forbiddenRange) &&
      !isValidRange(this.failedRange)
    ) {
      return "";
    }
    const range =
      this.state === "start"
        ? this.slotRange
        : this.state === "success"
          ? this.forbiddenRange
          : this.state === "fail"
            ? this.failedRange
            : NO_RANGE;
    return (
      `migrating_slot(s): ${formatRange(range)}\r\n` +
      `destination_node: ${this.dstNode}\r\n` +
      `migrating_state: ${this.state}\r\n`
    );
  }

  /** The process stops: the job dies with it and the target sees its link drop. */
  abandon(): void {
    this.clean();
  }

  private startMigration(): void {
    const target = lookupNode(this.dstHost, this.dstPort);
    if (!target?.servesPeers()) {
      // Kvrocks 2.10.1 against a SIGSTOPped target: the TCP connect succeeds (the kernel
      // accepts), then reading the import-state reply times out.
      const why = target?.running
        ? "failed to set import status on destination node: failed to check the response from the destination node: failed to read response: Resource temporarily unavailable"
        : "failed to connect to the destination node: Connection refused";
      this.schedule(this.node.config.migrationFailDelayMs, () => this.fail(why));
      return;
    }
    const session = newSession();
    const password = this.node.config.password;
    if (password !== "") {
      const err = target.executeInternal(session, ["auth", password]);
      if (err !== null) {
        this.schedule(0, () => this.fail(`failed to authenticate on destination node: ${err}`));
        return;
      }
    }
    this.link = { target, bootId: target.bootId, session };
    const err = this.sendImportState("0");
    if (err !== null) {
      this.schedule(0, () => this.fail(`failed to set import status on destination node: ${err}`));
      return;
    }
    this.schedule(this.node.config.migrationDelayMs, () => this.finish());
  }

  private finish(): void {
    const outcome = this.node.faults.migration;
    if (outcome === "stuck") {
      // Poll, so a test can release a stuck migration by switching the knob back.
      this.schedule(this.node.config.migrationDelayMs, () => this.finish());
      return;
    }
    if (outcome === "fail") {
      this.fail("failed to send commands to restore a key");
      return;
    }
    const link = this.link;
    if (!link || !this.linkAlive(link)) {
      this.fail("failed to send commands to restore a key: Broken pipe");
      return;
    }
    const range = this.slotRange;
    for (const [key, entry] of this.node.store.entriesInSlots((s) => rangeContains(range, s))) {
      link.target.store.set(key, Buffer.from(entry.value), entry.expireAt);
    }
    this.forbiddenRange = range;
    const err = this.sendImportState("1");
    if (err !== null) {
      this.fail(`failed to set import status on destination node: ${err}`);
      return;
    }
    this.node.cluster.setSlotRangeMigrated(range, `${this.dstHost}:${this.dstPort}`);
    this.failedRange = NO_RANGE;
    this.state = "success";
    this.resume(null);
    this.clean();
  }

  private fail(message: string): void {
    this.failedRange = this.slotRange;
    this.forbiddenRange = NO_RANGE;
    if (this.link && this.linkAlive(this.link)) this.sendImportState("2");
    this.state = "fail";
    this.resume(message);
    this.clean();
  }

  private sendImportState(state: "0" | "1" | "2"): string | null {
    const link = this.link;
    if (!link) return "invalid socket descriptor";
    return link.target.executeInternal(link.session, [
      "cluster",
      "import",
      formatRange(this.slotRange),
      state,
    ]);
  }

  private linkAlive(link: Link): boolean {
    return link.target.bootId === link.bootId && link.target.servesPeers();
  }

  private resume(error: string | null): void {
    const w = this.waiter;
    this.waiter = null;
    w?.(error);
  }

  private schedule(ms: number, fn: () => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      fn();
    }, ms);
    // A stuck migration polls forever; it must not keep a process alive on its own.
    this.timer.unref();
  }

  private clean(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.slotRange = NO_RANGE;
    const link = this.link;
    this.link = null;
    this.waiter = null;
    // Closing the link: the target gives up an import still in `start`.
    if (link && link.target.bootId === link.bootId) link.session.onClose?.();
  }
}
