// A private etcd that the tests kill: the shared one must stay up for everyone else.
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeEtcd, createEtcd, Store, tryLock } from "../../lib/store/index.js";
import { EtcdCluster } from "../support/etcd.js";
import { caught, makeCluster } from "./helpers.js";

describe("etcd unreachable", () => {
  let etcd: EtcdCluster;
  beforeAll(async () => {
    etcd = await EtcdCluster.start(1);
  });
  afterAll(async () => {
    await etcd?.stop();
  });

  it("answers unavailable within the deadline, and recovers when etcd is back", async () => {
    const client = createEtcd({ endpoints: etcd.endpoints, callTimeoutMs: 1000 });
    try {
      const store = new Store(client, "/kvrocks");
      await store.createNamespace("n1");
      await store.createCluster("n1", makeCluster("c1", [["10.0.0.1:6666"]]));

      await etcd.kill(0);
      const calls: [string, () => Promise<unknown>][] = [
        ["listNamespaces", () => store.listNamespaces()],
        ["getCluster", () => store.getCluster("n1", "c1")],
        ["createNamespace", () => store.createNamespace("n2")],
        ["updateCluster", () => store.updateCluster("n1", "c1", (c) => c)],
        ["putDoc", () => store.putDoc(store.keys.probeState("n1", "c1"), {})],
        ["tryLock", () => tryLock(client, store.keys.probeLock("n1", "c1"), { ttlSeconds: 2 })],
        ["ping", () => store.ping()],
      ];
      for (const [name, call] of calls) {
        const started = performance.now();
        const err = await caught(call);
        expect({ name, kind: err.kind }).toEqual({ name, kind: "unavailable" });
        expect(err.message).toMatch(/^etcd is unreachable: /);
        expect(performance.now() - started).toBeLessThan(2500);
      }

      await etcd.restart(0);
      // The client reconnects by itself (after the circuit breaker's pause).
      const deadline = performance.now() + 15_000;
      let names: string[] | undefined;
      while (!names && performance.now() < deadline) {
        names = await store.listNamespaces().catch(() => undefined);
        if (!names) await new Promise((r) => setTimeout(r, 200));
      }
      expect(names).toEqual(["n1"]);
    } finally {
      closeEtcd(client);
    }
  });

  it("aborts a lock's signal when its lease cannot be renewed", async () => {
    if (!etcd.members[0]?.process) await etcd.restart(0);
    const client = createEtcd({ endpoints: etcd.endpoints, callTimeoutMs: 1000 });
    try {
      const lock = await tryLock(client, "/kvrocks/locks/probe/n1/c1", { ttlSeconds: 2 });
      expect(lock).not.toBeNull();
      await etcd.kill(0);
      const started = performance.now();
      if (!lock!.signal.aborted) await once(lock!.signal, "abort");
      const waited = performance.now() - started;
      // Aborted no later than the lease could expire (2 s TTL), with some slack.
      expect(waited).toBeLessThan(3000);
      expect((lock!.signal.reason as { kind?: string }).kind).toBe("unavailable");
      await lock!.release(); // must not throw or hang while etcd is down
    } finally {
      closeEtcd(client);
    }
  });
});
