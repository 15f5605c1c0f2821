// Which clusters one probe invocation probes. An invocation holds one lease (one keep-alive)
// for its whole life and keeps the clusters it owns from round to round: a healthy round only
// reads the registry and the ownership keys. Clusters are shared out by rendezvous hashing
// with bounded loads over the live invocations, so every invocation owns at most its fair
// share, and every invocation computes the same assignment from the same registry.
import { createHash, randomUUID } from "node:crypto";
import type { Etcd3 } from "etcd3";
import { errorMessage, KvcError } from "../errors.js";
import { eachLimited } from "../limit.js";
import {
  type ClusterRef,
  claimOwnership,
  type Fence,
  grantLease,
  handOverOwnership,
  type InvocationRecord,
  LeaseKeeper,
  listMembers,
  listOwners,
  type Member,
  ownerString,
  ownershipFence,
  putMember,
  revokeLease,
  revokeLeaseOrThrow,
  type StoreKeys,
  TopologyCache,
} from "../store/index.js";

export interface InvocationOptions {
  /** Lease TTL: how long the clusters of a crashed invocation stay owned. */
  ttlSeconds: number;
  /** Where this invocation probes from; invocations in different zones differ. */
  observer: string;
  /**
   * true: a long-running invocation that joins the registry and keeps its clusters across
   * rounds. false: a one-round run (`--once`) that takes every unowned cluster and lets go.
   */
  member: boolean;
  /** How often the registry entry's `last_round_at` is refreshed. */
  heartbeatMs: number;
  now: () => number;
}

export interface OwnershipPlan {
  /** Clusters this invocation probes this round, each with the fence of its writes. */
  mine: { ref: ClusterRef; fence: Fence }[];
  /** Clusters another invocation owns (or should own) this round. */
  elsewhere: number;
  /** Ownership changes this round made: claims and hand-overs (each one etcd write). */
  claimed: number;
  handedOver: number;
  errors: { ref: ClusterRef; error: string }[];
}

/** How many claims or hand-overs go to etcd at once. */
const WRITE_CONCURRENCY = 32;

function score(member: string, cluster: string): number {
  return createHash("md5").update(member).update("\0").update(cluster).digest().readUInt32BE(0);
}

/**
 * Cluster → member: each cluster goes to the member that ranks it highest among those below
 * the cap ⌈clusters / members⌉. Deterministic in its inputs, so every invocation that reads
 * the same registry agrees, and a member joining or leaving moves few clusters.
 */
export function assignClusters(
  clusters: readonly string[],
  members: readonly string[],
): Map<string, string> {
  const out = new Map<string, string>();
  if (members.length === 0) return out;
  const sorted = [...new Set(members)].sort();
  const cap = Math.ceil(clusters.length / sorted.length);
  const load = new Map(sorted.map((m) => [m, 0]));
  // Clusters in hash order (not name order), so no member is favoured by the names.
  const order = [...clusters].map((c) => ({ c, h: score("", c) })).sort((a, b) => a.h - b.h);
  for (const { c } of order) {
    let best: string | null = null;
    let bestScore = -1;
    for (const m of sorted) {
      if ((load.get(m) ?? 0) >= cap) continue;
      const s = score(m, c);
      if (s > bestScore) {
        best = m;
        bestScore = s;
      }
    }
    if (best === null) continue;
    out.set(c, best);
    load.set(best, (load.get(best) ?? 0) + 1);
  }
  return out;
}

export class ProbeInvocation {
  readonly id: string;
  private keeper: LeaseKeeper;
  private lastHeartbeat = Number.NEGATIVE_INFINITY;
  private lastRoundAt: number | null = null;
  private readonly startedAt: number;
  /** Clusters seen unowned by the previous round: taken at second sight whoever should own them. */
  private unownedBefore = new Set<string>();
  private assignmentKey = "";
  private assignment = new Map<string, string>();
  private ended = false;
  /** Decoded topologies kept across this invocation's rounds while their revision holds. */
  readonly topologies = new TopologyCache();

  private constructor(
    private readonly etcd: Etcd3,
    private readonly keys: StoreKeys,
    readonly options: InvocationOptions,
    keeper: LeaseKeeper,
  ) {
    this.id = `${options.observer.replace(/[^\w.-]/g, "_")}-${randomUUID().slice(0, 8)}`;
    this.keeper = keeper;
    this.startedAt = options.now();
  }

  /** Grants the lease and, for a member, registers it: two etcd writes. */
  static async start(
    etcd: Etcd3,
    keys: StoreKeys,
    options: InvocationOptions,
  ): Promise<ProbeInvocation> {
    const keeper = await ProbeInvocation.keep(etcd, options.ttlSeconds);
    const invocation = new ProbeInvocation(etcd, keys, options, keeper);
    if (options.member) {
      try {
        await invocation.register();
      } catch (err) {
        await invocation.end();
        throw err;
      }
    }
    return invocation;
  }

  private static async keep(etcd: Etcd3, ttlSeconds: number): Promise<LeaseKeeper> {
    const lease = await grantLease(etcd, ttlSeconds);
    return new LeaseKeeper(etcd, lease, "probe invocation");
  }

  get lease(): string {
    return this.keeper.lease.id;
  }

  get observer(): string {
    return this.options.observer;
  }

  /** Aborted once the lease may have expired: every fence of this invocation is void. */
  get signal(): AbortSignal {
    return this.keeper.signal;
  }

  private record(): InvocationRecord {
    return {
      id: this.id,
      observer: this.options.observer,
      started_at: this.startedAt,
      last_round_at: this.lastRoundAt,
    };
  }

  private async register(): Promise<void> {
    await putMember(this.etcd, this.keys, this.record(), this.lease);
  }

  /**
   * A lost lease (etcd unreachable past the TTL, a long pause) is replaced by a new one. The
   * old one is revoked first: given up here, it may still live in etcd (a restarted or newly
   * elected etcd leader gives every lease a fresh TTL), and with it our ownership keys,
   * suspicions and votes: clusters no one probes and votes no one stands behind until it
   * expires. Revoked, they are gone now. A revoke that fails (etcd unreachable, an answer
   * lost) throws before any new lease is taken: the old one stays the one to revoke, so the
   * next round revokes it again (a new lease beside it would count our clusters as owned
   * elsewhere until it expired).
   */
  private async renewIfLost(): Promise<boolean> {
    if (!this.keeper.signal.aborted) return false;
    await revokeLeaseOrThrow(this.etcd, this.keeper.lease.id);
    const keeper = await ProbeInvocation.keep(this.etcd, this.options.ttlSeconds);
    this.keeper = keeper;
    if (this.options.member) await this.register();
    this.unownedBefore.clear();
    return true;
  }

  private assign(clusters: string[], members: Member[]): Map<string, string> {
    const ids = members.map((m) => m.id).sort();
    const key = `${ids.join(",")}|${clusters.join(",")}`;
    if (key !== this.assignmentKey) {
      this.assignment = assignClusters(clusters, ids);
      this.assignmentKey = key;
    }
    return this.assignment;
  }

  /**
   * Which of `refs` this invocation probes this round. Takes unowned clusters assigned to it
   * (or left unowned for a whole round), and hands clusters assigned to another live member
   * straight to that member's lease. Reads two prefixes; writes only when ownership changes.
   */
  async plan(refs: readonly ClusterRef[]): Promise<OwnershipPlan> {
    if (this.ended) throw new Error("probe invocation already ended");
    await this.renewIfLost();
    const lease = this.lease;
    const [members, owners] = await Promise.all([
      this.options.member ? listMembers(this.etcd, this.keys) : Promise.resolve([]),
      listOwners(this.etcd, this.keys),
    ]);
    // Our entry can vanish only with our lease; put it back so we are counted again.
    if (this.options.member && !members.some((m) => m.id === this.id)) {
      await this.register();
      members.push({ ...this.record(), lease });
    }
    const byId = new Map(members.map((m) => [m.id, m]));
    const ids = refs.map(ownerString);
    const assignment = this.options.member ? this.assign(ids, members) : null;

    const plan: OwnershipPlan = { mine: [], elsewhere: 0, claimed: 0, handedOver: 0, errors: [] };
    const claims: ClusterRef[] = [];
    const handOvers: { ref: ClusterRef; to: Member }[] = [];
    const unowned = new Set<string>();
    for (const [i, ref] of refs.entries()) {
      const id = ids[i] as string;
      const owner = owners.get(id);
      const want = assignment ? assignment.get(id) : this.id;
      if (owner?.lease === lease) {
        const to = want && want !== this.id ? byId.get(want) : undefined;
        if (to) handOvers.push({ ref, to });
        else plan.mine.push({ ref, fence: ownershipFence(this.keys, ref, lease) });
      } else if (!owner) {
        unowned.add(id);
        if (want === this.id || this.unownedBefore.has(id)) claims.push(ref);
        else plan.elsewhere++;
      } else {
        plan.elsewhere++;
      }
    }
    this.unownedBefore = unowned;

    await eachLimited(handOvers, WRITE_CONCURRENCY, async ({ ref, to }) => {
      const moved = await handOverOwnership(this.etcd, this.keys, ref, lease, {
        invocation: to.id,
        lease: to.lease,
      });
      if (moved.ok) {
        plan.handedOver++;
        plan.elsewhere++;
      } else if (moved.error === "no longer ours") {
        plan.elsewhere++;
      } else {
        // The other lease is gone: still ours, probed as before.
        plan.mine.push({ ref, fence: ownershipFence(this.keys, ref, lease) });
      }
    });
    await eachLimited(claims, WRITE_CONCURRENCY, async (ref) => {
      try {
        if (await claimOwnership(this.etcd, this.keys, ref, this.id, lease)) {
          plan.claimed++;
          plan.mine.push({ ref, fence: ownershipFence(this.keys, ref, lease) });
        } else {
          plan.elsewhere++;
        }
      } catch (err) {
        plan.errors.push({ ref, error: errorMessage(err) });
      }
    });
    return plan;
  }

  /**
   * Records a finished round. The registry entry is rewritten at most once a heartbeat: the
   * only periodic write of an invocation, whatever the number of clusters.
   */
  async roundDone(at: number): Promise<void> {
    this.lastRoundAt = at;
    if (!this.options.member || this.keeper.signal.aborted) return;
    if (at - this.lastHeartbeat < this.options.heartbeatMs) return;
    this.lastHeartbeat = at;
    await this.register();
  }

  /** Stops the keep-alive and revokes the lease: every cluster it owned is free at once. */
  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.keeper.stop(new KvcError("conflict", "probe invocation ended"));
    await revokeLease(this.etcd, this.lease);
  }
}
