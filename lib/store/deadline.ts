// One deadline for a piece of etcd work made of several calls. A compare-and-swap loop is one
// write to its caller however many races it loses, so its calls share the deadline its first
// call would have had: etcd hanging after a second of lost races is reported when that
// deadline passes (or MIN_CALL_MS into the hung call), not one call timeout after the last
// retry began. Scopes nest; the inner one never extends the outer.
import { AsyncLocalStorage } from "node:async_hooks";

const scope = new AsyncLocalStorage<number>();

/** Runs `fn` with every etcd call in it (and in what it awaits) due by `at` (epoch ms). */
export function withDeadline<T>(at: number, fn: () => Promise<T>): Promise<T> {
  const outer = scope.getStore();
  return scope.run(outer === undefined ? at : Math.min(outer, at), fn);
}

/** The enclosing scope's deadline (epoch ms), if any. */
export function scopeDeadline(): number | undefined {
  return scope.getStore();
}

/**
 * The least time a call in a scope is given, even when the scope's deadline is nearer or past.
 * A scope does not end a write that etcd keeps answering (writers of other clusters' claims
 * make it retry for as long as they commit, see Store.commitClaiming): it shortens the wait
 * for a call that gets no answer, from the call timeout to this. A healthy etcd answers in
 * milliseconds, a loaded one in hundreds.
 */
export const MIN_CALL_MS = 1000;

/** A call's deadline: its own timeout, cut short by the enclosing scope's (see MIN_CALL_MS). */
export function callDeadline(timeoutMs: number): Date {
  const now = Date.now();
  const own = now + timeoutMs;
  const outer = scope.getStore();
  return new Date(outer === undefined ? own : Math.min(own, Math.max(outer, now + MIN_CALL_MS)));
}
