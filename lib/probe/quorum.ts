// Observer quorum (`KVC_PROBE_QUORUM`): a master is failed over only once `quorum` distinct
// observers judged it down within down-after plus one interval, so a probe cut off from a
// healthy master cannot fail it over alone (split brain). The owner's own judgement is the
// first vote; it records a suspicion in etcd, and every other live invocation, a witness,
// probes that master from where it is and records its verdict. Nothing is written while all
// is healthy: the owner writes only after its confirmation judged a master down, witnesses
// only answer a suspicion.
import { setTimeout as delay } from "node:timers/promises";
import { errorMessage } from "../errors.js";
import {
  type Cluster,
  type ClusterNode,
  masterOf,
  type PendingQuorum,
  type ProbeState,
} from "../model/index.js";
import type { OpsDeps } from "../ops/index.js";
import { type ClusterRef, type Fence, ownerString, type QuorumEntries } from "../store/index.js";
import { type ConfirmSettings, confirmDown } from "./confirm.js";
import { observeNode } from "./observe.js";

export interface QuorumSettings {
  /** Distinct observers needed; 1 = the owner alone, nothing written. */
  quorum: number;
  downAfterMs: number;
  intervalMs: number;
  /** This invocation's observer name. */
  observer: string;
  /** How long the owner waits within its round for a missing vote; 0: until the next round. */
  waitMs: number;
}

export type QuorumGate =
  | { reached: true; voters: string[] | null }
  | { reached: false; why: string };

/**
 * A vote counts this long after it was cast: down-after plus one interval. Measured on wall
 * time (`OpsDeps.now`), not the monotonic clock: votes are cast by other processes, on other
 * hosts, and kept in etcd; those clocks must agree to well under this window.
 */
export function voteWindowMs(settings: Pick<QuorumSettings, "downAfterMs" | "intervalMs">): number {
  return settings.downAfterMs + settings.intervalMs;
}

export function waitingReason(pending: PendingQuorum): string {
  const up = pending.up.length > 0 ? `; answering for ${pending.up.join(", ")}` : "";
  return `waiting for quorum: ${pending.down.length} of ${pending.needed} observers judged the master down (${pending.down.join(", ")}${up})`;
}

/** Down and up observers from the votes on one master, the owner's own judgement first. */
export function tally(
  entries: QuorumEntries,
  own: string,
  now: number,
  windowMs: number,
): { down: string[]; up: string[] } {
  const latest = new Map<string, QuorumEntries["votes"][number]>();
  for (const v of entries.votes) {
    if (now - v.at > windowMs) continue;
    const seen = latest.get(v.observer);
    if (!seen || v.at > seen.at) latest.set(v.observer, v);
  }
  const down = new Set([own]);
  const up = new Set<string>();
  for (const [observer, v] of latest) {
    if (observer === own) continue;
    (v.verdict === "down" ? down : up).add(observer);
  }
  return { down: [own, ...[...down].filter((o) => o !== own).sort()], up: [...up].sort() };
}

/**
 * The owner judged `master` down: records its suspicion (once, under the owner's lease) and
 * counts the votes. Reached when `quorum` distinct observers judged it down in the window.
 */
export async function judgeByQuorum(
  deps: OpsDeps,
  ref: ClusterRef,
  shard: number,
  master: ClusterNode,
  state: ProbeState,
  settings: QuorumSettings,
  fence: Fence | undefined,
  signal?: AbortSignal,
): Promise<QuorumGate> {
  if (settings.quorum <= 1) return { reached: true, voters: null };
  const { store } = deps;
  const prefix = store.keys.masterQuorumPrefix(ref.namespace, ref.cluster, master.id);
  let entries = await store.readQuorum(prefix);
  const standing = entries.suspicions[0];
  const since = standing?.since ?? state.quorum[master.id]?.since ?? deps.now();
  // Without a fence there is no lease to hang the suspicion on: no witness is asked.
  // Re-written when another owner wrote it, or the shard's index changed (a lower shard was
  // removed): witnesses look the master up by id, health shows the index.
  if (fence && (standing?.lease !== fence.lease || standing.shard !== shard)) {
    await store.putSuspicion(
      {
        namespace: ref.namespace,
        cluster: ref.cluster,
        master_id: master.id,
        master_addr: master.addr,
        shard,
        since,
        observer: settings.observer,
      },
      fence.lease,
      fence,
    );
  }
  let { down, up } = tally(entries, settings.observer, deps.now(), voteWindowMs(settings));
  // Short of the quorum: a witness's vote is likely on its way (it needs its own down-after
  // time). Waiting for it up to one interval, rather than until the next round, fails a dead
  // master over about as soon as the last observer has judged it.
  if (down.length < settings.quorum && fence && settings.waitMs > 0) {
    if (await store.waitForQuorumChange(prefix, entries.revision, settings.waitMs, signal)) {
      entries = await store.readQuorum(prefix);
      ({ down, up } = tally(entries, settings.observer, deps.now(), voteWindowMs(settings)));
    }
  }
  const pending: PendingQuorum = {
    shard,
    addr: master.addr,
    since,
    needed: settings.quorum,
    down,
    up,
    owner_lease: fence?.lease ?? null,
  };
  state.quorum[master.id] = pending;
  if (down.length >= settings.quorum) return { reached: true, voters: down };
  return { reached: false, why: waitingReason(pending) };
}

/**
 * Removes the suspicions whose master answers again or is no longer its shard's master
 * (failed over): from etcd (with every vote on it) and from the probe state. Costs nothing
 * while no suspicion is pending.
 */
export async function settleSuspicions(
  deps: OpsDeps,
  ref: ClusterRef,
  cluster: Cluster,
  state: ProbeState,
  failures: number,
  fence: Fence | undefined,
): Promise<void> {
  const masters = new Set(cluster.shards.map((s) => masterOf(s)?.id));
  for (const id of Object.keys(state.quorum)) {
    const still = masters.has(id) && (state.nodes[id]?.failures ?? 0) >= failures;
    if (still) continue;
    await deps.store.clearSuspicion(ref, id, fence);
    delete state.quorum[id];
  }
}

export interface WitnessReport {
  ns: string;
  cluster: string;
  masterId: string;
  addr: string;
  /** null: the confirmation ran out of time undecided, nothing recorded. */
  verdict: "down" | "up" | null;
  recorded: boolean;
}

/**
 * A witness's part: every suspicion in `entries` (read at the round's start, one range read)
 * on a cluster this invocation does not own is probed from here, confirmed as the owner does,
 * and answered with a vote under this invocation's lease. Its votes on suspicions that are
 * gone are removed.
 */
export async function witnessSuspicions(
  deps: OpsDeps,
  settings: ConfirmSettings & { observer: string },
  own: { lease: string; owned: ReadonlySet<string> },
  entries: QuorumEntries,
  signal?: AbortSignal,
): Promise<WitnessReport[]> {
  const { store } = deps;
  const standing = new Set(entries.suspicions.map((s) => s.key));
  const stale = entries.votes.filter(
    (v) =>
      v.lease === own.lease &&
      !standing.has(store.keys.suspicion(v.namespace, v.cluster, v.master_id)),
  );
  await Promise.all(stale.map((v) => store.deleteVote(v.key)));
  const asked = entries.suspicions.filter(
    (s) =>
      s.lease !== own.lease &&
      !own.owned.has(ownerString({ namespace: s.namespace, cluster: s.cluster })),
  );
  const sleep = (ms: number) => delay(ms, undefined, { signal }).catch(() => undefined);
  return Promise.all(
    asked.map(async (s): Promise<WitnessReport> => {
      const report: WitnessReport = {
        ns: s.namespace,
        cluster: s.cluster,
        masterId: s.master_id,
        addr: s.master_addr,
        verdict: null,
        recorded: false,
      };
      const log = deps.log.child({ namespace: s.namespace, cluster: s.cluster });
      try {
        const { cluster } = await store.getCluster(s.namespace, s.cluster);
        // By id, not by the recorded index: a lower shard may have been removed since.
        const master = cluster.shards.map((sh) => masterOf(sh)).find((m) => m?.id === s.master_id);
        // No longer a master (failed over meanwhile): the owner clears the suspicion.
        if (!master) return report;
        // Down-after on the monotonic clock, as the owner measures it; the vote's `at` below is
        // wall time: other processes compare it with theirs.
        const clock = deps.monotonic ?? (() => performance.now());
        const sent = clock();
        const first = await observeNode(master, settings.timeoutMs, deps.nodePool);
        let error = first.error;
        if (first.alive) report.verdict = "up";
        else {
          const verdict = await confirmDown(
            first,
            sent,
            settings,
            { now: clock, sleep, pool: deps.nodePool },
            signal,
          );
          if (verdict.kind === "down") {
            report.verdict = "down";
            error = verdict.error;
          } else if (verdict.kind === "recovered") report.verdict = "up";
        }
        if (report.verdict === null || signal?.aborted) return report;
        report.recorded = await store.putVote(
          {
            namespace: s.namespace,
            cluster: s.cluster,
            master_id: s.master_id,
            observer: settings.observer,
            verdict: report.verdict,
            at: deps.now(),
            error: report.verdict === "down" ? error : null,
          },
          own.lease,
        );
        log.info(
          {
            node: s.master_id,
            addr: s.master_addr,
            verdict: report.verdict,
            suspected_by: s.observer,
          },
          "probe: witnessed a suspected master",
        );
      } catch (err) {
        log.warn(
          { node: s.master_id, error: errorMessage(err) },
          "probe: witness vote not recorded",
        );
      }
      return report;
    }),
  );
}

/**
 * The owner's suspicions that no round of its clusters still holds pending (the round that
 * should have cleared them failed before writing, or the master answered in a round that
 * could not settle them): removed, with their votes, so witnesses stop answering them.
 */
export async function clearOrphanSuspicions(
  deps: OpsDeps,
  entries: QuorumEntries,
  own: { lease: string },
  pending: ReadonlyMap<string, { fence: Fence; masters: ReadonlySet<string> }>,
): Promise<number> {
  let cleared = 0;
  for (const s of entries.suspicions) {
    if (s.lease !== own.lease) continue;
    const ref = { namespace: s.namespace, cluster: s.cluster };
    const round = pending.get(ownerString(ref));
    if (!round || round.masters.has(s.master_id)) continue;
    await deps.store.clearSuspicion(ref, s.master_id, round.fence);
    cleared++;
  }
  return cleared;
}
