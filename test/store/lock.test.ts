import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { acquireLock, type Lock, Store, tryLock } from "../../lib/store/index.js";
import { sharedEtcdEndpoints, uniquePrefix } from "../support/env.js";
import { caught, makeCluster, sharedClient } from "./helpers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const held: Lock[] = [];
afterEach(async () => {
  for (const lock of held.splice(0)) await lock.release();
});

async function lockOrNull(...args: Parameters<typeof tryLock>) {
  const lock = await tryLock(...args);
  if (lock) held.push(lock);
  return lock;
}

/** Resolves once the signal aborts; rejects if that takes longer than `ms`. */
async function abortedWithin(signal: AbortSignal, ms: number): Promise<unknown> {
  if (signal.aborted) return signal.reason;
  const timeout = AbortSignal.timeout(ms);
  await Promise.race([once(signal, "abort"), once(timeout, "abort")]);
  if (!signal.aborted) throw new Error(`signal not aborted within ${ms} ms`);
  return signal.reason;
}

describe("locks", () => {
  it("refuses a held lock to another client until it is released", async () => {
    const key = `${uniquePrefix("lock")}/locks/probe/n1/c1`;
    const a = sharedClient();
    const b = sharedClient();
    const lock = await lockOrNull(a, key, { ttlSeconds: 5 });
    expect(lock).not.toBeNull();
    expect(await lockOrNull(b, key, { ttlSeconds: 5 })).toBeNull();
    expect(await lockOrNull(a, key, { ttlSeconds: 5 })).toBeNull(); // not re-entrant

    await lock!.release();
    expect(lock!.signal.aborted).toBe(true);
    expect(await b.get(key).string()).toBeNull();
    expect(await lockOrNull(b, key, { ttlSeconds: 5 })).not.toBeNull();
  });

  it("keeps the lock past its TTL while the holder is alive", async () => {
    const key = `${uniquePrefix("lock")}/locks/keep`;
    const lock = (await lockOrNull(sharedClient(), key, { ttlSeconds: 1 }))!;
    await sleep(2500);
    expect(lock.signal.aborted).toBe(false);
    expect(await lockOrNull(sharedClient(), key, { ttlSeconds: 1 })).toBeNull();
  });

  it("waits for a lock to be released, or gives up with conflict", async () => {
    const key = `${uniquePrefix("lock")}/locks/op`;
    const first = (await lockOrNull(sharedClient(), key, { ttlSeconds: 5 }))!;
    const other = sharedClient();

    const refused = await caught(() => acquireLock(other, key, { ttlSeconds: 5, waitMs: 300 }));
    expect(refused.kind).toBe("conflict");

    setTimeout(() => void first.release(), 300);
    const started = performance.now();
    const second = await acquireLock(other, key, { ttlSeconds: 5, waitMs: 5000 });
    held.push(second);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(first.signal.aborted).toBe(true);
  });

  it("frees the lock of a holder killed with SIGKILL once its lease expires", async () => {
    const key = `${uniquePrefix("lock")}/locks/killed`;
    const script = fileURLToPath(new URL("./fixtures/hold-lock.ts", import.meta.url));
    // Its own process group, so the npx/tsx wrappers can be cleaned up by id afterwards.
    const child: ChildProcess = spawn(
      "npx",
      ["tsx", script, sharedEtcdEndpoints().join(","), key, "2"],
      { stdio: ["ignore", "pipe", "inherit"], detached: true },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout?.on("data", (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes("\n")) resolve(out.trim());
        });
        child.once("exit", (code) => reject(new Error(`holder exited early (${code}): ${out}`)));
      });
      expect(line).toMatch(/^locked \d+$/);
      const holderPid = Number(line.split(" ")[1]);

      const etcd = sharedClient();
      expect(await lockOrNull(etcd, key, { ttlSeconds: 2 })).toBeNull();

      process.kill(holderPid, "SIGKILL");
      const killedAt = performance.now();
      let lock: Lock | null = null;
      while (!lock && performance.now() - killedAt < 10_000) {
        await sleep(100);
        lock = await lockOrNull(etcd, key, { ttlSeconds: 2 });
      }
      expect(lock).not.toBeNull();
      // Freed by lease expiry (2 s TTL), not earlier and not much later.
      const waited = performance.now() - killedAt;
      expect(waited).toBeGreaterThan(500);
      expect(waited).toBeLessThan(5000);
    } finally {
      if (child.pid && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
  });

  it("rejects fenced writes once the lease is revoked, and signals the loss", async () => {
    const prefix = uniquePrefix("fence");
    const etcd = sharedClient();
    const store = new Store(etcd, prefix);
    await store.createNamespace("n1");
    await store.createCluster("n1", makeCluster("c1", [["10.0.0.1:6666"]]));
    const key = store.keys.probeLock("n1", "c1");
    const lock = (await lockOrNull(etcd, key, { ttlSeconds: 3 }))!;
    const { fence } = lock;

    // While held, fenced writes go through.
    const doc = store.keys.probeState("n1", "c1");
    await store.putDoc(doc, { failures: 1 }, { fence });
    await store.updateCluster("n1", "c1", (c) => ({ ...c, version: c.version + 1 }), { fence });

    // Someone else revokes the holder's lease (as if it had expired).
    const other = sharedClient();
    await other.leaseClient.leaseRevoke({ ID: fence.lease });

    const putErr = await caught(() => store.putDoc(doc, { failures: 2 }, { fence }));
    expect(putErr.kind).toBe("conflict");
    expect(putErr.message).toContain("no longer held");
    const updErr = await caught(() =>
      store.updateCluster("n1", "c1", (c) => ({ ...c, version: c.version + 1 }), { fence }),
    );
    expect(updErr.kind).toBe("conflict");
    expect((await caught(() => store.deleteCluster("n1", "c1", { fence }))).kind).toBe("conflict");
    expect((await caught(() => store.createNamespace("n2", { fence }))).kind).toBe("conflict");

    // Nothing was written by the stale holder.
    const state = await store.getDoc(doc, z.object({ failures: z.number() }));
    expect(state?.value.failures).toBe(1);
    expect((await store.getCluster("n1", "c1")).cluster.version).toBe(2);

    // The keepalive (every TTL/3) finds out and aborts the signal.
    const reason = await abortedWithin(lock.signal, 3000);
    expect((reason as { kind?: string }).kind).toBe("conflict");

    // A new holder's fence does not let the old one write either.
    const next = (await lockOrNull(other, key, { ttlSeconds: 3 }))!;
    expect(next).not.toBeNull();
    expect((await caught(() => store.putDoc(doc, { failures: 3 }, { fence }))).kind).toBe(
      "conflict",
    );
    await store.putDoc(doc, { failures: 3 }, { fence: next.fence });
  });
});
