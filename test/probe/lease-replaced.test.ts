// A probe invocation whose lease it could not renew in time takes a new one: the old one is
// revoked at once, so what it held (ownership, suspicions, votes, the registry entry) is gone
// now, not when etcd expires it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProbeInvocation } from "../../lib/probe/index.js";
import { startInvocation } from "../../lib/probe/index.js";
import { EtcdCluster } from "../support/etcd.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import { probeDeps } from "./helpers.js";

let etcd: EtcdCluster;
let h: Harness;

beforeAll(async () => {
  // A private etcd, to stop and restart under the invocation.
  etcd = await EtcdCluster.start(1);
  h = await startHarness({
    label: "lease",
    env: { KVC_ETCD_ENDPOINTS: etcd.endpoints.join(","), KVC_PROBE_LOCK_TTL_SECONDS: "3" },
  });
}, 30_000);
afterAll(async () => {
  await h?.close();
  await etcd?.stop();
});

async function leaseAlive(id: string): Promise<boolean> {
  const res = await h.etcd.leaseClient.leaseTimeToLive({ ID: id, keys: false });
  return Number(res.TTL) > 0;
}

describe("a probe invocation's lost lease", () => {
  it("is revoked when replaced: the invocation keeps probing its clusters at once", async () => {
    await h.createCluster("lease", "c", await h.startNodes(2), 1);
    const ref = { namespace: "lease", cluster: "c" };
    const invocation: ProbeInvocation = await startInvocation(probeDeps(h), h.settings, true);
    try {
      expect((await invocation.plan([ref])).mine).toHaveLength(1);
      const old = invocation.lease;

      // etcd down past the TTL: the invocation gives its lease up...
      await etcd.kill(0);
      await eventually(() => invocation.signal.aborted, 15_000, 50);
      // ...but a restarted etcd gives every lease a fresh TTL (its lessor does so on becoming
      // leader): the old lease and its ownership keys live on unless revoked.
      await etcd.restart(0);

      const plan = await invocation.plan([ref]);
      expect(invocation.lease).not.toBe(old);
      expect(await leaseAlive(old)).toBe(false);
      // Not left owned by the old lease until it expires: probed this round.
      expect(plan.mine.map((m) => m.ref)).toEqual([ref]);
    } finally {
      await invocation.end();
    }
  }, 60_000);

  it("is revoked by the next round when the first revoke failed, before a new lease is used", async () => {
    const ref = { namespace: "lease", cluster: "c" };
    const invocation: ProbeInvocation = await startInvocation(probeDeps(h), h.settings, true);
    const leases = h.etcd.leaseClient;
    const revoke = leases.leaseRevoke;
    try {
      expect((await invocation.plan([ref])).mine).toHaveLength(1);
      const old = invocation.lease;
      await etcd.kill(0);
      await eventually(() => invocation.signal.aborted, 15_000, 50);
      await etcd.restart(0);

      // The revoke's answer is lost (a dropped connection): the old lease may live on.
      let failed = 0;
      leases.leaseRevoke = async () => {
        failed++;
        leases.leaseRevoke = revoke;
        throw new Error("14 UNAVAILABLE: connection dropped");
      };
      await expect(invocation.plan([ref])).rejects.toThrow(/UNAVAILABLE/);
      expect(failed).toBe(1);
      const plan = await invocation.plan([ref]);
      expect(invocation.lease).not.toBe(old);
      expect(await leaseAlive(old)).toBe(false);
      expect(plan.mine.map((m) => m.ref)).toEqual([ref]);
    } finally {
      leases.leaseRevoke = revoke;
      await invocation.end();
    }
  }, 60_000);
});
