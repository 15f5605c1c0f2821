// Suspect, then confirm: a master that failed its probe is asked again every `confirmEveryMs`
// until it answers or has been unreachable for `downAfterMs` over at least `failures`
// consecutive failed probes. A stall shorter than down-after (a pause, a slow command, a
// network hiccup) answers in between and is never judged down. Bounded: it gives up after
// down-after plus `failures` probe deadlines, and the round's counters take over.
// The clock starts at the first failed probe, or earlier at the moment the node closed the
// probe's kept connection when that probe was sent right after it (the drop woke the round):
// a stall never closes a connection, and a drop seen long before the probe says nothing of
// the time in between.
// A master that closed that connection and then refused every probe is gone, not stalled: it is
// judged down after `failures` refused probes, down-after not waited out (issue 27); a silent one
// (probes timing out) has its re-probes overlap (issue 22, see `confirmDown`).
import type { NodePool } from "../kvrocks/index.js";
import { type Observation, observeNode } from "./observe.js";

export interface ConfirmSettings {
  downAfterMs: number;
  confirmEveryMs: number;
  failures: number;
  timeoutMs: number;
}

export type Verdict =
  /** Answered (or is loading) during the confirmation: the observation to use instead. */
  | { kind: "recovered"; observation: Observation; probes: number }
  | {
      kind: "down";
      /** When it became unreachable (see `unreachableSince`). */
      since: number;
      /** Consecutive failed probes, the round's own included. */
      probes: number;
      unreachableMs: number;
      /** Every failed probe was refused: the process is gone, not merely slow. */
      refusedOnly: boolean;
      error: string | null;
    }
  /** Neither within the bound (probes slower than their deadline): left to the counters. */
  | { kind: "undecided"; probes: number; unreachableMs: number };

export interface ConfirmDeps {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  pool?: NodePool;
}

/**
 * When the master became unreachable: `sent` (its failed probe), or the drop of its kept
 * connection when the probe followed it within one re-probe period.
 */
export function unreachableSince(
  addr: string,
  sent: number,
  settings: Pick<ConfirmSettings, "confirmEveryMs">,
  pool?: NodePool,
): number {
  const dropped = pool?.lostSince(addr);
  if (dropped === undefined || dropped > sent || sent - dropped > settings.confirmEveryMs)
    return sent;
  return dropped;
}

/**
 * `first` failed when probed at `sent`. Returns once the master answers, is judged down, or
 * the bound is reached; stops early when `signal` aborts.
 *
 * A master whose probe timed out is silent (stopped, its host hung, a network black hole): no
 * connection closes and every probe waits out its deadline. Its re-probes are not awaited one
 * deadline after another (three of 1 s took 3.3 s): each goes out a period after the one before
 * whether that one answered or not, on its own connection, and one that has gone a whole period
 * without an answer counts as failed (the node has then been silent since `since`, every probe
 * still unanswered); any answer, however late, ends the suspicion. It is judged down only once a
 * probe sent after down-after had elapsed has gone a period unanswered: a stall must outlast
 * down-after plus a period, and the round's first probe its whole deadline, to be failed over.
 */
export async function confirmDown(
  first: Observation,
  sent: number,
  settings: ConfirmSettings,
  deps: ConfirmDeps,
  signal?: AbortSignal,
): Promise<Verdict> {
  const since = unreachableSince(first.node.addr, sent, settings, deps.pool);
  // The node closed our kept connection just before the round's probe (see `unreachableSince`).
  const dropped = deps.pool?.lostSince(first.node.addr) === since;
  let probes = 1;
  let refusedOnly = first.failure === "refused";
  let error = first.error;
  const bound =
    settings.downAfterMs + settings.failures * (settings.timeoutMs + settings.confirmEveryMs);
  let silent = first.failure === "timeout";
  // Silent: a probe sent once down-after had elapsed went a period unanswered.
  let concluded = false;
  let lastSent = sent;
  let answer: Observation | null = null;
  let heard: () => void = () => {};
  const answered = new Promise<void>((resolve) => {
    heard = resolve;
  });
  let pooled = false;
  for (;;) {
    if (answer) return { kind: "recovered", observation: answer, probes };
    const unreachableMs = deps.now() - since;
    if (
      unreachableMs >= settings.downAfterMs &&
      probes >= settings.failures &&
      (!silent || concluded)
    )
      return { kind: "down", since, probes, unreachableMs, refusedOnly, error };
    // The process is gone: it closed its connection and then refused every probe since, which
    // a stall never does (a stalled or cut-off node closes nothing and refuses nothing). Judged
    // down after `failures` refused probes a period apart, without waiting out down-after: on
    // Kvrocks 2.10 a promotion sent within the first second after the death lands at that
    // second, one sent after it a second later (see `PROMOTION_GRACE_MS`).
    if (dropped && refusedOnly && probes >= settings.failures)
      return { kind: "down", since, probes, unreachableMs, refusedOnly, error };
    if (unreachableMs >= bound || signal?.aborted)
      return { kind: "undecided", probes, unreachableMs };
    // The probe that can conclude goes out as down-after elapses, not up to a period later.
    const due = since + settings.downAfterMs - deps.now();
    if (silent) {
      const period = lastSent + settings.confirmEveryMs;
      const next =
        lastSent < since + settings.downAfterMs
          ? Math.min(period, since + settings.downAfterMs)
          : period;
      const wait = Math.max(0, next - deps.now());
      if (wait > 0) await Promise.race([deps.sleep(wait), answered]);
      if (answer) continue;
      lastSent = deps.now();
      const late = lastSent >= since + settings.downAfterMs;
      // The kept connection for one probe at a time: a second one queued behind it would fail
      // with it (the pool closes a connection that timed out), not on its own.
      const viaPool = !pooled;
      if (viaPool) pooled = true;
      let settled = false;
      const probe = observeNode(first.node, settings.timeoutMs, viaPool ? deps.pool : undefined)
        .then((again) => {
          settled = true;
          if (again.alive) {
            answer ??= again;
            heard();
          } else {
            refusedOnly &&= again.failure === "refused";
            error = again.error ?? error;
          }
        })
        .finally(() => {
          if (viaPool) pooled = false;
        });
      await Promise.race([probe, deps.sleep(settings.confirmEveryMs), answered]);
      if (answer) continue;
      // Failed, or a whole period without an answer: one more failed probe.
      probes++;
      if (!settled) refusedOnly = false;
      if (late) concluded = true;
      continue;
    }
    const concludes = probes + 1 >= settings.failures && due > 0 && !(dropped && refusedOnly);
    await deps.sleep(
      concludes ? Math.min(settings.confirmEveryMs, due + 1) : settings.confirmEveryMs,
    );
    lastSent = deps.now();
    const again = await observeNode(first.node, settings.timeoutMs, deps.pool);
    if (again.alive) return { kind: "recovered", observation: again, probes };
    probes++;
    refusedOnly &&= again.failure === "refused";
    error = again.error ?? error;
    // A re-probe that timed out: the master went silent, its next re-probes overlap.
    silent ||= again.failure === "timeout";
  }
}
