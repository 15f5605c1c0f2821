// Compare-and-swap loops: re-read and retry a lost race a bounded number of times, with
// jittered backoff so racers spread out instead of colliding again in lockstep.
import { conflict } from "../errors.js";

export const DEFAULT_CAS_ATTEMPTS = 5;

/**
 * How many times a write may lose only its claims compare to writers of other clusters before
 * it counts as one lost race (see `Store.commitClaiming`): each loss is another writer's
 * commit, so this bounds the wait behind that many concurrent claimers.
 */
export const MAX_CLAIM_RACES = 64;

/** What one attempt says: committed (with a value), or lost a race and should retry. */
export type Attempt<T> = { done: true; value: T } | { done: false };

export const lostRace = { done: false } as const;
export const committed = <T>(value: T): Attempt<T> => ({ done: true, value });

export async function casLoop<T>(
  what: string,
  maxAttempts: number,
  attempt: () => Promise<Attempt<T>>,
): Promise<T> {
  const attempts = Math.max(1, Math.floor(maxAttempts));
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await backoff(i);
    const result = await attempt();
    if (result.done) return result.value;
  }
  throw conflict(`${what} changed concurrently ${attempts} times in a row; try again`);
}

export function backoff(retry: number): Promise<void> {
  const cap = Math.min(250, 5 * 2 ** retry);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * cap));
}
