// The fault campaign (issue 23): a deployment on loopback, a seeded plan of faults and
// operations run against it under a steady client load, and the six invariants of
// docs/safety.md §3 checked while it runs and at the end. `npm run chaos` runs it; the
// real-node suite runs three fixed seeds (test/chaos/campaign.test.ts).
import { Redis } from "ioredis";
import { parseReplicationInfo } from "../../lib/kvrocks/index.js";
import { type Cluster, clusterViolations, masterOf } from "../../lib/model/index.js";
import { containsRange, type SlotRange } from "../../lib/slots/index.js";
import {
  type Answer,
  type ClusterRecorder,
  call,
  recordCluster,
  sleep,
} from "../reliability/support.js";
import { clusterClient } from "../support/cluster-load.js";
import { keySlot } from "../support/kvrocks-sim/keyslot.js";
import type { TestNode } from "../support/nodes.js";
import { Deployment } from "./deployment.js";
import { type FaultKind, makePlan, type OpKind, type Plan, type Step } from "./plan.js";
import { Timeline } from "./timeline.js";

export const NS = "chaos";
/** KVC_PROBE_DOWN_AFTER_MS as the deployment runs it (the default). */
const DOWN_AFTER_MS = 900;
/** `--every` of the deployment's probe invocations. */
const PROBE_EVERY_MS = 1000;
/**
 * The margin of a documented exception's window over one probe interval: the round that starts
 * after the old master answers may wait up to the probe's node timeout (1000 ms, the default) for
 * the nodes before it pushes. A window longer than PROBE_EVERY_MS + this is a violation.
 */
const EXCEPTION_MARGIN_MS = 1000;
export const CL = "main";
export const OTHER_NS = "other";
export const OTHER_CL = "o";

export interface CampaignOptions {
  seed: number;
  minutes: number;
  nodes: "real" | "sim";
  quorum: number;
  /** Client writes per second (unique keys, spread over 4 writers). */
  rate?: number;
  /** Bound for convergence and tasks after the faults stop. */
  settleMs?: number;
  echo?: (line: string) => void;
}

export interface CampaignResult {
  seed: number;
  plan: Plan;
  minutes: number;
  faults: Record<string, number>;
  ops: Record<string, number>;
  opAnswers: Record<string, number>;
  acked: number;
  writeErrors: number;
  lostTolerated: number;
  /** The documented exceptions of docs/safety.md P2, counted apart (see `Exception`). */
  exceptions: Exception[];
  failovers: number;
  probeStarts: number;
  violations: { invariant: number; what: string; t: number; around: string[] }[];
  elapsedMs: number;
}

interface Ack {
  value: string;
  slot: number;
  sentAt: number;
  ackedAt: number;
}

/** A master's data and its replicas' at a kill or stop: the replication lag the loss may use. */
interface MasterLoss {
  t: number;
  addr: string;
  kind: FaultKind;
  slots: SlotRange[];
  /** When the sequences were read (ms since start), and what they said. */
  sampledAt: number;
  masterSeq: number | null;
  replicaSeq: number | null;
}

interface Demotion {
  t: number;
  id: string;
  addr: string;
  shard: number;
  lostSlots: SlotRange[];
  /** The version that demoted it, and the master it made. */
  version: number;
  newMasterAddr: string | null;
}

/**
 * A documented exception of docs/safety.md P2: an old master that answered again as master of
 * the slots it lost, after a failover, and took writes there until a push demoted it. Either a
 * killed master restarted with its data dir (it reloads its old topology from nodes.conf) or a
 * thawed SIGSTOPped one. Counted apart from invariants 1 and 4 only while its window stays
 * within PROBE_EVERY_MS + EXCEPTION_MARGIN_MS of its first answer.
 */
export interface Exception {
  kind: "restarted old master" | "thawed master";
  addr: string;
  lostSlots: SlotRange[];
  /** Writes it may have taken for its lost slots: from max(back, demotion seen in etcd)... */
  from: number;
  /** ...to the first refusal (or the end of the watch). */
  until: number;
  /** From its first answer to its first refusal. */
  windowMs: number;
  /** The checker's own writes it accepted (one every 20 ms). */
  accepted: number;
  /** Client writes acknowledged in the window for the lost slots that do not read back. */
  lostWrites: number;
}

interface OpRecord {
  kind: OpKind;
  shard: number;
  startedAt: number;
  endedAt: number | null;
}

interface FaultRecord {
  kind: FaultKind;
  addr: string;
  startedAt: number;
  endedAt: number | null;
  /** When a killed node was started again (with its data) or a stopped one was sent SIGCONT. */
  backAt?: number;
}

const sequenceOf = async (node: TestNode, timeoutMs: number): Promise<number | null> => {
  try {
    const [repl, keyspace] = (await Promise.race([
      Promise.all([node.call("INFO", "replication"), node.call("INFO", "keyspace")]),
      sleep(timeoutMs).then(() => {
        throw new Error("timeout");
      }),
    ])) as [unknown, unknown];
    return parseReplicationInfo(`${String(repl)}\r\n${String(keyspace)}`).sequence;
  } catch {
    return null;
  }
};

/** A key whose slot is `slot`, for each slot: writes aimed at one slot on purpose. */
let slotKeys: string[] | null = null;
function keyForSlot(slot: number): string {
  if (!slotKeys) {
    const keys: (string | undefined)[] = new Array(16384);
    let found = 0;
    for (let i = 0; found < 16384; i++) {
      const key = `chaos-sb-${i}`;
      const s = keySlot(key);
      if (keys[s] === undefined) {
        keys[s] = key;
        found++;
      }
    }
    slotKeys = keys as string[];
  }
  return slotKeys[slot]!;
}

const inRanges = (ranges: readonly SlotRange[], slot: number) =>
  containsRange(ranges, { start: slot, stop: slot });

function shardOfSlot(cluster: Cluster, slot: number): number {
  return cluster.shards.findIndex((s) => inRanges(s.slot_ranges, slot));
}

/** One node's own line of CLUSTER NODES: role, master, epoch (version), slots. */
function ownLine(text: string): {
  id: string;
  role: string;
  master: string | null;
  version: number;
  slots: SlotRange[];
} | null {
  for (const line of text.split("\n")) {
    const words = line.trim().split(" ");
    if (words.length < 8 || !words[2]!.split(",").includes("myself")) continue;
    const slots: SlotRange[] = [];
    for (const w of words.slice(8)) {
      if (w.startsWith("[")) continue;
      const [a, b] = w.split("-");
      slots.push({ start: Number(a), stop: Number(b ?? a) });
    }
    return {
      id: words[0]!,
      role: words[2]!.includes("master") ? "master" : "slave",
      master: words[3] === "-" ? null : words[3]!,
      version: Number(words[6]),
      slots,
    };
  }
  return null;
}

function slotSet(ranges: readonly SlotRange[]): string {
  const slots: number[] = [];
  for (const r of ranges) for (let s = r.start; s <= r.stop; s++) slots.push(s);
  slots.sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < slots.length; ) {
    let j = i;
    while (j + 1 < slots.length && slots[j + 1] === slots[j]! + 1) j++;
    out.push(i === j ? `${slots[i]}` : `${slots[i]}-${slots[j]}`);
    i = j + 1;
  }
  return out.join(",");
}

export async function runCampaign(opts: CampaignOptions): Promise<CampaignResult> {
  const echo = opts.echo ?? ((line: string) => console.log(line));
  const durationMs = Math.round(opts.minutes * 60_000);
  const plan = makePlan(opts.seed, durationMs, opts.quorum);
  const tl = new Timeline(echo);
  const rate = opts.rate ?? 200;
  const settleMs = opts.settleMs ?? (opts.nodes === "real" ? 90_000 : 60_000);
  const d = new Deployment({
    nodes: opts.nodes,
    quorum: opts.quorum,
    probeEveryMs: 10_000,
    probeForMs: 13_000,
    log: (kind, what) => tl.add(kind, what),
    onApiExit: (i, what) => tl.violate(6, `API instance ${i} ${what}`),
  });
  const faultCounts: Record<string, number> = {};
  const opCounts: Record<string, number> = {};
  const opAnswers: Record<string, number> = {};
  const acks = new Map<string, Ack>();
  let writeErrors = 0;
  const losses: MasterLoss[] = [];
  const demotions: Demotion[] = [];
  const exceptions: Exception[] = [];
  const opsInFlight: OpRecord[] = [];
  const faultLog: FaultRecord[] = [];
  /** Addresses with a node fault under way: a shard gets one at a time. */
  const faulted = new Set<string>();
  /** Windows (ms since start) in which etcd had no leader: 5xx are allowed there. */
  const noQuorum: { from: number; to: number }[] = [];
  const background = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    background.add(p);
    void p.finally(() => background.delete(p));
  };
  /** Latest sequence read of every node, by address: the fallback for a kill's lag. */
  const sequences = new Map<string, { at: number; seq: number }>();
  let recorder: ClusterRecorder | undefined;
  let chaosOn = true;
  let writing = true;
  let probesStarted = false;
  const loops: Promise<void>[] = [];

  const latest = (): Cluster => {
    const c = recorder?.latest();
    if (!c) throw new Error("no version of the cluster recorded yet");
    return c;
  };
  const nodeAt = (addr: string) => d.nodes.find((n) => n.addr === addr);
  const pool = () => d.nodes.slice(0, 8);
  const otherNodes = () => d.nodes.slice(8, 10);

  // --- the API, spread over both instances; every answer is checked for 5xx (invariant 6) ---
  const api = async (method: string, path: string, body?: unknown): Promise<Answer> => {
    const server = d.nextApi();
    const startedAt = tl.now();
    if (!server) return { status: 0, body: "no API instance running", ms: 0 };
    const answer = await call(server.base, method, path, body, 30_000);
    if (answer.status >= 500) {
      const endedAt = tl.now();
      const excused = noQuorum.some((w) => w.from <= endedAt && startedAt <= w.to);
      if (!excused || answer.status !== 503) {
        tl.violate(
          6,
          `${method} ${path} answered ${answer.status} (${JSON.stringify(answer.body).slice(0, 300)}) while etcd had a quorum`,
        );
      }
    }
    return answer;
  };
  const clusterPath = `/api/v1/namespaces/${NS}/clusters/${CL}`;

  /** Waits until a version recorded after `since` satisfies `check` (the 2xx is in etcd). */
  const inEtcd = async (what: string, since: number, check: (c: Cluster) => boolean) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const seen = recorder!.versions.some(
        (v) => v.seenAt - tl.start >= since - 50 && check(v.cluster),
      );
      if (seen) return;
      // A version committed before the watch delivered the ones after `since`.
      const now = (await d.runtime.store.getCluster(NS, CL).catch(() => null))?.cluster;
      if (now && check(now)) return;
      if (Date.now() > deadline) {
        tl.violate(6, `${what}: answered 2xx, but no version in etcd shows it`);
        return;
      }
      await sleep(200);
    }
  };

  try {
    await d.start();
    const watchFrom = String(Number((await d.runtime.etcd.get("/").exec()).header.revision) + 1);
    recorder = await recordCluster(
      d.runtime.etcd,
      d.runtime.store.keys.cluster(NS, CL),
      NS,
      CL,
      watchFrom,
    );
    for (const ns of [NS, OTHER_NS]) {
      const a = await api("POST", "/api/v1/namespaces", { namespace: ns });
      if (a.status !== 201)
        throw new Error(`create namespace ${ns}: ${a.status} ${JSON.stringify(a.body)}`);
    }
    const created = await api("POST", `/api/v1/namespaces/${NS}/clusters`, {
      name: CL,
      nodes: d.nodes.slice(0, 6).map((n) => n.addr),
      replicas: 2,
    });
    if (created.status !== 201)
      throw new Error(`create cluster: ${created.status} ${JSON.stringify(created.body)}`);
    const other = await api("POST", `/api/v1/namespaces/${OTHER_NS}/clusters`, {
      name: OTHER_CL,
      nodes: otherNodes().map((n) => n.addr),
      replicas: 2,
    });
    if (other.status !== 201)
      throw new Error(`create other cluster: ${other.status} ${JSON.stringify(other.body)}`);
    await waitUntil(() => recorder!.versions.length > 0, 10_000);
    d.startProbes();
    probesStarted = true;
    // A master no probe round saw is not failed over on a guess (docs/safety.md P5): the
    // faults start once every node was probed.
    const probed = await waitUntil(async () => {
      const h = await api("GET", `${clusterPath}/health`);
      return h.status === 200 && h.body.data.nodes.every((n: { probed: boolean }) => n.probed);
    }, 60_000);
    if (!probed) throw new Error("the probe did not see every node within 60 s");
    tl.add(
      "setup",
      `plan: ${plan.faults.length} faults, ${plan.ops.length} operations over ${opts.minutes} min (seed ${opts.seed}, quorum ${opts.quorum})`,
    );

    // --- the client: unique keys at a steady rate, every acknowledgement recorded ---
    // Only host and port: ioredis takes every other field of the object as a node option.
    const client = clusterClient({ host: d.nodes[1]!.host, port: d.nodes[1]!.port });
    const writers = 4;
    for (let w = 0; w < writers; w++) {
      loops.push(
        (async () => {
          let next = Date.now();
          for (let n = 0; writing; n++) {
            next = Math.max(next + (1000 * writers) / rate, Date.now() - 1000);
            const wait = next - Date.now();
            if (wait > 0) await sleep(wait);
            const key = `k:${w}:${n}`;
            const sentAt = tl.now();
            const value = `${n}-${sentAt}`;
            try {
              // Bounded: a command queued while the client has no slot map waits for one.
              const reply = await Promise.race([
                client.set(key, value),
                sleep(5000).then(() => null),
              ]);
              if (reply !== "OK") throw new Error("no acknowledgement within 5 s");
              acks.set(key, { value, slot: keySlot(key), sentAt, ackedAt: tl.now() });
            } catch (err) {
              if (writeErrors++ === 0) tl.add("client", `first failed write: ${String(err)}`);
            }
          }
        })(),
      );
    }

    // --- every node's data sequence once a second: the lag at a kill when it cannot be read then ---
    loops.push(
      (async () => {
        while (writing) {
          await Promise.all(
            pool().map(async (n) => {
              if (!n.running) return;
              const seq = await sequenceOf(n, 500);
              if (seq !== null) sequences.set(n.addr, { at: tl.now(), seq });
            }),
          );
          await sleep(1000);
        }
      })(),
    );

    // --- invariants 2 (etcd), 3 and 4, on every version the watch delivers ---
    loops.push(
      (async () => {
        let seen = 0;
        while (writing || seen < recorder!.versions.length) {
          const versions = recorder!.versions;
          for (; seen < versions.length; seen++) {
            const v = versions[seen]!;
            const at = v.seenAt - tl.start;
            for (const problem of clusterViolations(v.cluster)) {
              tl.violate(2, `etcd version ${v.cluster.version}: ${problem}`, at);
            }
            const prev = versions[seen - 1]?.cluster;
            if (!prev) continue;
            if (v.cluster.version < prev.version) {
              tl.violate(
                2,
                `etcd version went from ${prev.version} down to ${v.cluster.version}`,
                at,
              );
            }
            prev.shards.forEach((shard, index) => {
              const old = masterOf(shard);
              if (!old) return;
              const now = v.cluster.shards.flatMap((s) => s.nodes).find((n) => n.id === old.id);
              if (now?.role !== "slave") return;
              const newMaster = v.cluster.shards[index]
                ? masterOf(v.cluster.shards[index]!)
                : undefined;
              const demotion: Demotion = {
                t: at,
                id: old.id,
                addr: old.addr,
                shard: index,
                lostSlots: shard.slot_ranges,
                version: v.cluster.version,
                newMasterAddr: newMaster?.addr ?? null,
              };
              demotions.push(demotion);
              tl.add(
                "failover",
                `shard ${index}: ${old.addr} -> ${newMaster?.addr ?? "?"} (version ${v.cluster.version})`,
                at,
              );
              judgeFailover(demotion);
              track(watchOldMaster(demotion));
            });
          }
          await sleep(100);
        }
      })(),
    );

    /** Invariant 3: a failover the operator did not ask for needs a fault that kills or stops. */
    const judgeFailover = (dm: Demotion) => {
      const manual = opsInFlight.some(
        (o) =>
          ["switchover", "failover", "conflict"].includes(o.kind) &&
          o.startedAt <= dm.t &&
          (o.endedAt === null || dm.t <= o.endedAt + 2000),
      );
      if (manual) return;
      const onIt = faultLog.filter((f) => f.addr === dm.addr && f.startedAt <= dm.t);
      const cause = [...onIt]
        .reverse()
        .find((f) => ["kill", "restart", "restart-empty", "stop"].includes(f.kind));
      if (cause && (cause.endedAt === null || dm.t - cause.endedAt < 60_000)) return;
      const last = onIt.at(-1);
      tl.violate(
        3,
        `${dm.addr} (shard ${dm.shard}) was failed over with no kill, restart or long stop of it before` +
          (last
            ? ` (last fault on it: ${last.kind} at ${(last.startedAt / 1000).toFixed(3)}s)`
            : ""),
        dm.t,
      );
    };

    /**
     * Invariant 4: once the old master answers again, it takes no write for the slots it
     * lost. Asked directly (not through the cluster client), for a key of one of those slots.
     */
    const watchOldMaster = async (dm: Demotion) => {
      const node = nodeAt(dm.addr);
      const successor = dm.newMasterAddr === null ? undefined : nodeAt(dm.newMasterAddr);
      const slot = dm.lostSlots[0]?.start;
      if (!node || !successor || slot === undefined) return;
      const key = keyForSlot(slot);
      const deadline = Date.now() + 120_000;
      let answeredAt: number | null = null;
      // The fault that brought it down before the failover and when it came back: a killed
      // master started again with its data, or a stopped one thawed, is the documented
      // exception of docs/safety.md P2 (it answers with its old topology until a push).
      // Read when judged, not now: the fault is usually still under way when the failover is
      // seen (its `backAt` and a late stall's reclassification as a stop come later).
      const cause = () => {
        const f = faultLog.filter((f) => f.addr === dm.addr && f.startedAt <= dm.t).at(-1);
        if (f?.backAt === undefined) return null;
        const kind: Exception["kind"] | null =
          f.kind === "kill" || f.kind === "restart"
            ? "restarted old master"
            : f.kind === "stop"
              ? "thawed master"
              : null;
        return kind === null ? null : { kind, backAt: f.backAt };
      };
      /** Records the window [back or demoted, `until`] as the documented exception. */
      const exception = (until: number, windowMs: number, accepted: number): Exception | null => {
        const c = cause();
        if (c === null) return null;
        const e: Exception = {
          kind: c.kind,
          addr: dm.addr,
          lostSlots: dm.lostSlots,
          from: Math.max(c.backAt, dm.t),
          until,
          windowMs,
          accepted,
          lostWrites: 0,
        };
        exceptions.push(e);
        return e;
      };
      let refusedFirst: number | null = null;
      while (Date.now() < deadline) {
        // Two masters at once need the new one to serve: until it holds the demoting version,
        // a write the old master takes still reaches it by replication (a switchover commits
        // in etcd first, then pushes the old master, then waits for the new one to catch up).
        const successorVersion = successor.running
          ? await Promise.race([
              successor.call("CLUSTERX", "VERSION").then(Number, () => -1),
              sleep(1000).then(() => -1),
            ])
          : -1;
        if (!node.running || successorVersion < dm.version) {
          await sleep(50);
          continue;
        }
        try {
          const reply = await Promise.race([
            node.call("SET", key, `split-brain-check-${dm.t}`),
            sleep(1000).then(() => "timeout"),
          ]);
          if (reply === "timeout") continue;
          answeredAt ??= tl.now();
          if (reply === "OK") {
            // Not a violation if etcd has given it the slot back since (a later failover).
            const owner = shardOfSlot(latest(), slot);
            const ownerMaster = owner >= 0 ? masterOf(latest().shards[owner]!) : undefined;
            if (ownerMaster?.id === dm.id) return;
            const faults = faultLog
              .filter((f) => f.addr === dm.addr && f.startedAt <= dm.t)
              .map((f) => f.kind);
            // How long it goes on: every 20 ms until it refuses (the push reached it).
            const firstAt = tl.now();
            let accepted = 1;
            while (tl.now() - firstAt < 10_000) {
              const again = await node.call("SET", key, "split-brain-check").catch(() => "refused");
              if (again !== "OK") break;
              accepted++;
              await sleep(20);
            }
            const refusedAt = tl.now();
            const windowMs = refusedAt - answeredAt;
            const what = `${dm.addr}, failed over at ${(dm.t / 1000).toFixed(3)}s (version ${dm.version}; ${dm.newMasterAddr} serving as master), took writes for slot ${slot} from ${firstAt - answeredAt} ms after it answered again, for ${refusedAt - firstAt} ms (${accepted} of them, one every 20 ms); its faults before: ${faults.join(", ") || "none"}`;
            // The documented exception only while the window is what the design bounds it
            // to: the probe round after its first answer pushes it. Longer is a violation,
            // and so are the client writes lost in it (they are not counted apart).
            const bound = PROBE_EVERY_MS + EXCEPTION_MARGIN_MS;
            const exceptionKind = cause()?.kind ?? null;
            if (exceptionKind !== null && windowMs <= bound) {
              exception(refusedAt, windowMs, accepted);
              tl.add(
                "exception",
                `${what} [documented exception: a ${exceptionKind}, docs/safety.md P2; window ${windowMs} ms from its first answer, bound ${bound} ms]`,
                firstAt,
              );
            } else {
              tl.violate(
                4,
                `${what}${exceptionKind !== null ? ` [a ${exceptionKind}, but its window of ${windowMs} ms from its first answer exceeds the documented bound of ${bound} ms: one probe interval plus ${EXCEPTION_MARGIN_MS} ms]` : ""}`,
                firstAt,
              );
            }
            return;
          }
        } catch (err) {
          const msg = String(err);
          if (/LOADING|ECONNREFUSED|Connection is closed|connect/i.test(msg)) {
            await sleep(50);
            continue;
          }
          answeredAt ??= tl.now();
        }
        // Refused at its first answer (MOVED, CLUSTERDOWN...): the push had reached it, but
        // the client may have written there between its start (or thaw) and this answer. Counted
        // apart only if that span is itself within the bound (the checker may have been slow
        // to ask: then what the client lost there stays a violation of invariant 1).
        const back = answeredAt !== null && refusedFirst === null ? cause() : null;
        if (answeredAt !== null && back !== null) {
          refusedFirst = answeredAt;
          const span = answeredAt - Math.max(back.backAt, dm.t);
          if (span <= PROBE_EVERY_MS + EXCEPTION_MARGIN_MS) exception(answeredAt, span, 0);
        }
        // A little longer, for a push that would undo it.
        if (answeredAt !== null && tl.now() - answeredAt > 2000) return;
        await sleep(100);
      }
    };

    // --- faults ---
    const resolveNode = (step: Step<FaultKind>): TestNode | null => {
      const c = latest();
      const shard = c.shards[step.shard % c.shards.length]!;
      if (shard.nodes.some((n) => faulted.has(n.addr))) return null;
      const candidates =
        step.role === "master"
          ? [masterOf(shard)].filter((n) => n !== undefined)
          : shard.nodes.filter((n) => n.role === "slave");
      if (candidates.length === 0) return null;
      const chosen = candidates[step.pick % candidates.length]!;
      const node = nodeAt(chosen.addr);
      return node?.running ? node : null;
    };

    const recordLoss = async (node: TestNode, kind: FaultKind): Promise<void> => {
      const c = latest();
      const shard = c.shards.find((s) => masterOf(s)?.addr === node.addr);
      if (!shard) return;
      const replicas = shard.nodes
        .filter((n) => n.role === "slave")
        .map((n) => nodeAt(n.addr))
        .filter((n) => n !== undefined);
      const sampledAt = tl.now();
      const [masterSeq, ...replicaSeqs] = await Promise.all(
        [node, ...replicas].map((n) => (n.running ? sequenceOf(n, 300) : Promise.resolve(null))),
      );
      const fallbackReplica = replicas
        .map((r) => sequences.get(r.addr)?.seq ?? null)
        .filter((s) => s !== null);
      const replicaSeq = replicaSeqs.some((s) => s !== null)
        ? Math.max(...replicaSeqs.filter((s) => s !== null))
        : fallbackReplica.length > 0
          ? Math.max(...fallbackReplica)
          : null;
      const sampledMaster = masterSeq ?? sequences.get(node.addr)?.seq ?? null;
      losses.push({
        t: tl.now(),
        addr: node.addr,
        kind,
        slots: shard.slot_ranges,
        sampledAt: masterSeq !== null ? sampledAt : (sequences.get(node.addr)?.at ?? sampledAt),
        masterSeq: sampledMaster,
        replicaSeq,
      });
    };

    const runFault = async (step: Step<FaultKind>): Promise<void> => {
      const count = () => (faultCounts[step.kind] = (faultCounts[step.kind] ?? 0) + 1);
      switch (step.kind) {
        case "probe-kill": {
          const running = d.probes.filter((p) => !p.exited);
          if (running.length === 0) return tl.add("skip", "probe-kill: no probe running");
          const victim = running[step.pick % running.length]!;
          victim.child.kill("SIGKILL");
          count();
          return tl.add("fault", `probe-kill: ${victim.observer} pid ${victim.child.pid}`);
        }
        case "etcd-kill": {
          if (d.etcd.members.some((m) => !m.process))
            return tl.add("skip", "etcd-kill: a member is down");
          const leader = await d.etcdLeader();
          const index =
            step.pick % 2 === 0 && leader >= 0 ? leader : (leader + 1 + (step.pick % 2)) % 3;
          const from = tl.now();
          await d.etcd.kill(index);
          count();
          tl.add(
            "fault",
            `etcd-kill: member ${index}${index === leader ? " (the leader)" : ""}, down ${step.durationMs} ms`,
          );
          if (index === leader) {
            // Without a leader etcd answers nothing: the API may answer 503 until one is elected.
            await waitUntil(async () => (await d.etcdLeader()) >= 0, 10_000);
            noQuorum.push({ from, to: tl.now() + 1000 });
            tl.add("heal", `etcd: new leader after ${tl.now() - from} ms`);
          }
          await sleep(Math.max(0, step.durationMs - (tl.now() - from)));
          await d.etcd.restart(index);
          return tl.add("heal", `etcd member ${index} restarted`);
        }
        case "api-kill": {
          const i = step.pick % 2;
          if (!d.apis[1 - i]) return tl.add("skip", "api-kill: the other instance is down");
          await d.killApi(i);
          count();
          tl.add("fault", `api-kill: instance ${i}, down ${step.durationMs} ms`);
          await sleep(step.durationMs);
          await d.startApi(i);
          return;
        }
        case "partition": {
          const node = d.partitioned!;
          if (faulted.has(node.addr))
            return tl.add("skip", "partition: the node has a fault under way");
          faulted.add(node.addr);
          const record: FaultRecord = {
            kind: "partition",
            addr: node.addr,
            startedAt: tl.now(),
            endedAt: null,
          };
          faultLog.push(record);
          d.proxy!.cut();
          count();
          tl.add("fault", `partition: observer-b cut from ${node.addr} for ${step.durationMs} ms`);
          await sleep(step.durationMs);
          d.proxy!.heal();
          record.endedAt = tl.now();
          faulted.delete(node.addr);
          return tl.add("heal", `partition healed (${node.addr})`);
        }
        default: {
          const node = resolveNode(step);
          if (!node)
            return tl.add("skip", `${step.kind}: shard ${step.shard} ${step.role} busy or down`);
          faulted.add(node.addr);
          const record: FaultRecord = {
            kind: step.kind,
            addr: node.addr,
            startedAt: tl.now(),
            endedAt: null,
          };
          const role =
            masterOf(latest().shards.find((s) => s.nodes.some((n) => n.addr === node.addr))!)
              ?.addr === node.addr
              ? "master"
              : "replica";
          try {
            if (role === "master" && step.kind !== "stall") await recordLoss(node, step.kind);
            record.startedAt = tl.now();
            faultLog.push(record);
            count();
            tl.add(
              "fault",
              `${step.kind}: ${role} ${node.addr}${step.durationMs ? ` for ${step.durationMs} ms` : ""}`,
            );
            switch (step.kind) {
              case "kill":
                await node.kill();
                await sleep(step.durationMs);
                record.backAt = tl.now();
                await node.restart();
                break;
              case "restart":
                await node.kill();
                record.backAt = tl.now();
                await node.restart();
                break;
              case "restart-empty":
                await node.restartEmpty(step.durationMs);
                break;
              case "stall":
              case "stop": {
                const stoppedAt = performance.now(); // pause() sends SIGSTOP first
                await node.pause();
                await sleep(stoppedAt + step.durationMs - performance.now());
                const stood = Math.round(performance.now() - stoppedAt);
                record.backAt = tl.now();
                await node.resume(); // SIGCONT first
                // On a loaded host the timer fires late: a stall is judged by how long the
                // node really stood still, and one past down-after is a stop.
                if (step.kind === "stall" && stood >= DOWN_AFTER_MS) {
                  record.kind = "stop";
                  tl.add(
                    "note",
                    `stall of ${node.addr} lasted ${stood} ms (a late timer): counted as a stop`,
                  );
                }
                break;
              }
            }
            tl.add("heal", `${step.kind}: ${node.addr} back`);
          } finally {
            record.endedAt = tl.now();
            faulted.delete(node.addr);
          }
        }
      }
    };

    // --- operations ---
    const freeSpares = (): TestNode[] => {
      const used = new Set(latest().shards.flatMap((s) => s.nodes.map((n) => n.addr)));
      return pool().filter((n) => !used.has(n.addr) && n.running && !faulted.has(n.addr));
    };
    const answer = (kind: string, a: Answer) => {
      const key = `${kind} ${a.status}`;
      opAnswers[key] = (opAnswers[key] ?? 0) + 1;
      const msg = typeof a.body === "object" && a.body?.error ? `: ${a.body.error.message}` : "";
      tl.add("answer", `${kind} -> ${a.status}${msg.slice(0, 200)}`);
    };
    const migrateBody = (c: Cluster, step: Step<OpKind>, targetPick: number) => {
      const withSlots = c.shards
        .map((s, i) => ({ s, i }))
        .filter(({ s }) => s.slot_ranges.length > 0);
      if (withSlots.length < 1 || c.shards.length < 2) return null;
      const { s, i } = withSlots[step.shard % withSlots.length]!;
      const targets = c.shards.map((_, j) => j).filter((j) => j !== i);
      const target = targets[targetPick % targets.length]!;
      const r = s.slot_ranges[step.pick % s.slot_ranges.length]!;
      const size = 1 + (step.pick % 48);
      const stop = Math.min(r.stop, r.start + size - 1);
      return {
        source: i,
        body: { target, slots: [r.start === stop ? `${r.start}` : `${r.start}-${stop}`] },
      };
    };

    const runOp = async (step: Step<OpKind>): Promise<void> => {
      const c = latest();
      const shardIndex = step.shard % c.shards.length;
      const record: OpRecord = {
        kind: step.kind,
        shard: shardIndex,
        startedAt: tl.now(),
        endedAt: null,
      };
      const count = () => (opCounts[step.kind] = (opCounts[step.kind] ?? 0) + 1);
      opsInFlight.push(record);
      try {
        switch (step.kind) {
          case "migrate": {
            const m = migrateBody(c, step, step.pick >> 8);
            if (!m) return tl.add("skip", "migrate: nothing to move");
            count();
            tl.add("op", `migrate ${m.body.slots[0]} from shard ${m.source} to ${m.body.target}`);
            const a = await api("POST", `${clusterPath}/migrate`, m.body);
            answer("migrate", a);
            if (a.status === 202) {
              const id = a.body.data.task.id as string;
              const stored = await d.runtime.etcd
                .get(d.runtime.store.keys.task(NS, CL, id))
                .string();
              if (stored === null)
                tl.violate(6, `migrate answered 202 with task ${id}, which etcd does not hold`);
            }
            return;
          }
          case "scale-out": {
            const spares = freeSpares();
            if (c.shards.length >= 4 || spares.length < 2)
              return tl.add("skip", "scale-out: no two spares or already 4 shards");
            count();
            const nodes = spares.slice(0, 2).map((n) => n.addr);
            tl.add("op", `scale-out with ${nodes.join(", ")}`);
            const a = await api("POST", `${clusterPath}/scale`, {
              add_shards: [{ nodes }],
              force: true,
            });
            answer("scale-out", a);
            if (a.status >= 200 && a.status < 300) {
              await inEtcd("scale-out", record.startedAt, (v) =>
                v.shards.some((s) => s.nodes.some((n) => n.addr === nodes[0])),
              );
            }
            return;
          }
          case "scale-in": {
            if (c.shards.length < 4) return tl.add("skip", "scale-in: 3 shards");
            count();
            tl.add("op", "scale-in: remove shard 3");
            const a = await api("POST", `${clusterPath}/scale`, { remove_shards: [3] });
            answer("scale-in", a);
            return;
          }
          case "switchover":
          case "failover": {
            const shard = c.shards[shardIndex]!;
            const replicas = shard.nodes.filter((n) => n.role === "slave");
            const preferred =
              step.kind === "failover" && replicas.length > 0
                ? replicas[step.pick % replicas.length]
                : undefined;
            count();
            tl.add(
              "op",
              `${step.kind} of shard ${shardIndex}${preferred ? ` to ${preferred.addr}` : ""} (master ${masterOf(shard)?.addr})`,
            );
            const a = await api(
              "POST",
              `${clusterPath}/shards/${shardIndex}/failover`,
              preferred ? { preferred_node_id: preferred.id } : {},
            );
            answer(step.kind, a);
            if (a.status === 200) {
              const id = a.body.data.new_master_id as string;
              await inEtcd(`${step.kind} to ${id}`, record.startedAt, (v) =>
                v.shards.some((s) => masterOf(s)?.id === id),
              );
            }
            return;
          }
          case "node-add": {
            const spares = freeSpares();
            if (spares.length === 0) return tl.add("skip", "node-add: no spare");
            const spare = spares[step.pick % spares.length]!;
            count();
            tl.add("op", `node-add ${spare.addr} to shard ${shardIndex}`);
            const a = await api("POST", `${clusterPath}/shards/${shardIndex}/nodes`, {
              addr: spare.addr,
              role: "slave",
              force: true,
            });
            answer("node-add", a);
            if (a.status === 201) {
              const id = a.body.data as string;
              await inEtcd(`node-add ${id}`, record.startedAt, (v) =>
                v.shards.some((s) => s.nodes.some((n) => n.id === id)),
              );
            }
            return;
          }
          case "node-remove": {
            const shards = c.shards.map((s, i) => ({ s, i })).filter(({ s }) => s.nodes.length > 2);
            if (shards.length === 0)
              return tl.add("skip", "node-remove: no shard with an added replica");
            const { s, i } = shards[step.pick % shards.length]!;
            const victim = s.nodes.filter((n) => n.role === "slave")[0]!;
            count();
            tl.add("op", `node-remove ${victim.addr} from shard ${i}`);
            const a = await api("DELETE", `${clusterPath}/shards/${i}/nodes/${victim.id}`);
            answer("node-remove", a);
            if (a.status === 204) {
              await inEtcd(
                `node-remove ${victim.id}`,
                record.startedAt,
                (v) => !v.shards.some((x) => x.nodes.some((n) => n.id === victim.id)),
              );
            }
            return;
          }
          case "other-cluster": {
            const path = `/api/v1/namespaces/${OTHER_NS}/clusters/${OTHER_CL}`;
            const key = d.runtime.store.keys.cluster(OTHER_NS, OTHER_CL);
            const exists = (await d.runtime.etcd.get(key).string()) !== null;
            count();
            if (exists) {
              tl.add("op", "other-cluster: delete");
              const a = await api("DELETE", path);
              answer("other-delete", a);
              if (
                a.status >= 200 &&
                a.status < 300 &&
                (await d.runtime.etcd.get(key).string()) !== null
              ) {
                tl.violate(6, "the other cluster's delete answered 2xx, and etcd still holds it");
              }
            } else {
              tl.add(
                "op",
                "other-cluster: create again (force: its nodes keep the deleted cluster's topology)",
              );
              const a = await api("POST", `/api/v1/namespaces/${OTHER_NS}/clusters`, {
                name: OTHER_CL,
                nodes: otherNodes().map((n) => n.addr),
                replicas: 2,
                force: true,
              });
              answer("other-create", a);
              if (a.status === 201 && (await d.runtime.etcd.get(key).string()) === null) {
                tl.violate(6, "the other cluster's create answered 201, and etcd does not hold it");
              }
            }
            return;
          }
          case "conflict": {
            count();
            const spares = freeSpares();
            if (step.pick % 2 === 0 && spares.length > 0 && c.shards.length >= 2) {
              // One spare added to two shards at once through both instances: one may win.
              const spare = spares[0]!;
              const [x, y] = [shardIndex, (shardIndex + 1) % c.shards.length];
              tl.add("op", `conflict: ${spare.addr} added to shards ${x} and ${y} at once`);
              const answers = await Promise.all(
                [x, y].map((i) =>
                  api("POST", `${clusterPath}/shards/${i}/nodes`, {
                    addr: spare.addr,
                    role: "slave",
                    force: true,
                  }),
                ),
              );
              for (const a of answers) answer("conflict-add", a);
              const won = answers.filter((a) => a.status === 201);
              if (won.length > 1) tl.violate(6, `one node added to two shards: both answered 201`);
              const id = won[0]?.body.data as string | undefined;
              if (id)
                await inEtcd(`conflict add ${id}`, record.startedAt, (v) =>
                  v.shards.some((s) => s.nodes.some((n) => n.id === id)),
                );
            } else {
              // The same range to two targets at once: at most one migration per shard.
              const m1 = migrateBody(c, step, 0);
              const m2 = migrateBody(c, step, 1);
              if (!m1 || !m2 || m1.body.target === m2.body.target)
                return tl.add("skip", "conflict: no two targets");
              tl.add(
                "op",
                `conflict: ${m1.body.slots[0]} from shard ${m1.source} to shards ${m1.body.target} and ${m2.body.target} at once`,
              );
              const answers = await Promise.all(
                [m1, m2].map((m) => api("POST", `${clusterPath}/migrate`, m.body)),
              );
              for (const a of answers) answer("conflict-migrate", a);
              // Both may be 202: a migration while the source has one is queued, and fails
              // with its reason once the source no longer owns the range (invariants 2 and 5
              // check the outcome: one owner, every task ended).
              for (const a of answers) {
                if (a.status !== 202) continue;
                const id = a.body.data.task.id as string;
                if (
                  (await d.runtime.etcd.get(d.runtime.store.keys.task(NS, CL, id)).string()) ===
                  null
                )
                  tl.violate(
                    6,
                    `conflicting migrate answered 202 with task ${id}, which etcd does not hold`,
                  );
              }
            }
            return;
          }
        }
      } finally {
        record.endedAt = tl.now();
      }
    };

    // --- the plan, run on its clock ---
    const runSteps = async <K>(
      steps: Step<K>[],
      run: (s: Step<K>) => Promise<void>,
      concurrent: boolean,
    ) => {
      for (const step of steps) {
        const wait = step.at - tl.now();
        if (wait > 0) await sleep(wait);
        if (!chaosOn) return;
        const p = run(step).catch((err) => tl.add("error", `${String(step.kind)}: ${String(err)}`));
        if (concurrent) track(p);
        else await p;
      }
    };
    const started = tl.now();
    const shifted = <K>(steps: Step<K>[]) => steps.map((s) => ({ ...s, at: s.at + started }));
    await Promise.all([
      runSteps(shifted(plan.faults), runFault, true),
      runSteps(shifted(plan.ops), runOp, false),
      sleep(durationMs),
    ]);
    chaosOn = false;
    tl.add("phase", "faults and operations stop; waiting for the faults under way to heal");
    await Promise.all([...background]);

    // --- invariants 2 (nodes) and 5 after the last fault ---
    const settledAt = tl.now();
    const settle = async (): Promise<string[]> => {
      const problems: string[] = [];
      const c = (await d.runtime.store.getCluster(NS, CL)).cluster;
      const tasks = await api("GET", `${clusterPath}/tasks`);
      if (tasks.status !== 200) problems.push(`tasks: ${tasks.status}`);
      else {
        for (const t of tasks.body.data.tasks as {
          id: string;
          state: string;
          ranges: string[];
        }[]) {
          if (t.state === "queued" || t.state === "running")
            problems.push(`5:task ${t.id} (${t.ranges.join(",")}) still ${t.state}`);
        }
      }
      c.shards.forEach((s, i) => {
        if (s.migrating_slot !== null) problems.push(`5:shard ${i} still migrating in etcd`);
      });
      for (const shard of c.shards) {
        const master = masterOf(shard)!;
        for (const n of shard.nodes) {
          const node = nodeAt(n.addr);
          if (!node) continue;
          const text = await Promise.race([
            node.call("CLUSTER", "NODES").catch((e) => `error ${String(e)}`),
            sleep(2000).then(() => "timeout"),
          ]);
          const own = ownLine(String(text));
          if (!own) {
            problems.push(`2:${n.addr}: CLUSTER NODES ${String(text).slice(0, 80)}`);
            continue;
          }
          if (own.version !== c.version)
            problems.push(`2:${n.addr} at version ${own.version}, etcd ${c.version}`);
          if (own.id !== n.id) problems.push(`2:${n.addr} is ${own.id}, etcd says ${n.id}`);
          if (own.role !== n.role) problems.push(`2:${n.addr} is ${own.role}, etcd says ${n.role}`);
          if (n.role === "slave" && own.master !== master.id)
            problems.push(`2:${n.addr} follows ${own.master}, etcd says ${master.id}`);
          if (n.role === "master" && slotSet(own.slots) !== slotSet(shard.slot_ranges)) {
            problems.push(
              `2:${n.addr} owns ${slotSet(own.slots)}, etcd says ${slotSet(shard.slot_ranges)}`,
            );
          }
        }
      }
      return problems;
    };
    let problems: string[] = [];
    while (tl.now() - settledAt < settleMs) {
      problems = await settle().catch((err) => [`2:settle: ${String(err)}`]);
      if (problems.length === 0) break;
      await sleep(1000);
    }
    if (problems.length === 0)
      tl.add("phase", `converged ${tl.now() - settledAt} ms after the last fault healed`);
    for (const p of problems) {
      const [inv, what] = p.includes(":") && /^[25]:/.test(p) ? [Number(p[0]), p.slice(2)] : [2, p];
      tl.violate(inv, `${settleMs} ms after the faults stopped: ${what}`);
    }

    // The probe's and the API's own account of each failover (reason, failures, voters),
    // placed in the timeline for the violations around them.
    const history = await api("GET", `${clusterPath}/failovers`);
    if (history.status === 200) {
      for (const f of history.body.data.failovers as {
        at: number;
        shard: number;
        old_master_addr: string;
        new_master_addr: string;
        reason: string;
        outcome: string;
        voters?: string[];
      }[]) {
        tl.add(
          "history",
          `shard ${f.shard}: ${f.old_master_addr} -> ${f.new_master_addr || "-"} ${f.outcome}: ${f.reason}${f.voters ? ` (voters ${f.voters.join(", ")})` : ""}`,
          f.at - tl.start,
        );
      }
    }

    writing = false;
    await Promise.all(loops);
    client.disconnect();

    // --- invariant 1: every acknowledged write, read from the node etcd says owns it ---
    const c = (await d.runtime.store.getCluster(NS, CL)).cluster;
    const byNode = new Map<string, [string, Ack][]>();
    for (const entry of acks) {
      const shard = c.shards[shardOfSlot(c, entry[1].slot)];
      const master = shard ? masterOf(shard) : undefined;
      if (!master) continue;
      byNode.set(master.addr, [...(byNode.get(master.addr) ?? []), entry]);
    }
    const lost: [string, Ack, string][] = [];
    for (const [addr, entries] of byNode) {
      const [host, port] = [
        addr.slice(0, addr.lastIndexOf(":")),
        Number(addr.slice(addr.lastIndexOf(":") + 1)),
      ];
      const r = new Redis({
        host,
        port,
        protocol: 2,
        maxRetriesPerRequest: 0,
        enableReadyCheck: false,
        retryStrategy: () => null,
        lazyConnect: true,
        connectTimeout: 5000,
        commandTimeout: 30_000,
      });
      r.on("error", () => {});
      try {
        await r.connect();
        for (let i = 0; i < entries.length; i += 1000) {
          const chunk = entries.slice(i, i + 1000);
          const p = r.pipeline();
          for (const [k] of chunk) p.get(k);
          const results = (await p.exec()) ?? [];
          chunk.forEach(([k, ack], j) => {
            const [err, value] = results[j] ?? [new Error("no reply"), null];
            if (err) lost.push([k, ack, `read error ${err.message}`]);
            else if (value !== ack.value)
              lost.push([k, ack, value === null ? "missing" : `reads ${String(value)}`]);
          });
        }
      } catch (err) {
        for (const [k, ack] of entries) lost.push([k, ack, `node ${addr}: ${String(err)}`]);
      } finally {
        r.disconnect();
      }
    }
    // The tolerated loss: acknowledged by a master shortly before its kill (or stop), within
    // what its best replica lacked when it was read (docs/safety.md P1).
    let tolerated = 0;
    const explained = new Map<MasterLoss, number>();
    const unexplained: [string, Ack, string][] = [];
    for (const entry of lost) {
      const [, ack, how] = entry;
      // Acknowledged by an old master inside its documented window (docs/safety.md P2, an
      // `Exception` within its bound), for a slot it had lost: counted apart. By slot and time,
      // as the kills' attribution is: acknowledged after it was back and the failover seen in
      // etcd, and no later than its first refusal (+100 ms for the reply on its way).
      const window = exceptions.find(
        (e) =>
          how === "missing" &&
          inRanges(e.lostSlots, ack.slot) &&
          ack.ackedAt >= e.from &&
          ack.ackedAt <= e.until + 100,
      );
      if (window) {
        window.lostWrites++;
        continue;
      }
      const loss = [...losses]
        .reverse()
        .find(
          (l) =>
            ack.ackedAt <= l.t + 100 &&
            ack.ackedAt >= l.t - 30_000 &&
            inRanges(l.slots, ack.slot) &&
            how === "missing",
        );
      if (!loss) unexplained.push(entry);
      else explained.set(loss, (explained.get(loss) ?? 0) + 1);
    }
    for (const [loss, n] of explained) {
      const since = [...acks.values()].filter(
        (a) =>
          a.ackedAt > loss.sampledAt && a.ackedAt <= loss.t + 100 && inRanges(loss.slots, a.slot),
      ).length;
      const lag =
        loss.masterSeq !== null && loss.replicaSeq !== null
          ? loss.masterSeq - loss.replicaSeq
          : null;
      const what = `${n} writes acknowledged by ${loss.addr} before its ${loss.kind} at ${(loss.t / 1000).toFixed(3)}s are lost; its replica lacked ${lag ?? "?"} writes when read ${loss.t - loss.sampledAt} ms before, and ${since} more were acknowledged since`;
      if (lag !== null && n <= lag + since) {
        tolerated += n;
        tl.add("lost", `tolerated: ${what}`);
      } else {
        tl.violate(1, `more lost than the replication lag explains: ${what}`, loss.t);
      }
    }
    if (unexplained.length > 0) {
      const first = unexplained
        .slice(0, 5)
        .map(
          ([k, a, how]) =>
            `${k} (slot ${a.slot}, acknowledged at ${(a.ackedAt / 1000).toFixed(3)}s): ${how}`,
        );
      tl.violate(
        1,
        `${unexplained.length} acknowledged writes do not read back, and no kill explains them: ${first.join("; ")}`,
        unexplained[0]![1].ackedAt,
      );
    }
    const inWindows = exceptions.reduce((n, e) => n + e.lostWrites, 0);
    tl.add(
      "phase",
      `checked ${acks.size} acknowledged writes: ${lost.length} lost, ${tolerated} of them within a killed master's replication lag, ${inWindows} in the windows of ${exceptions.length} documented exceptions (docs/safety.md P2)`,
    );

    return {
      seed: opts.seed,
      plan,
      minutes: opts.minutes,
      faults: faultCounts,
      ops: opCounts,
      opAnswers,
      acked: acks.size,
      writeErrors,
      lostTolerated: tolerated,
      exceptions,
      failovers: demotions.length,
      probeStarts: d.probeStarts,
      violations: tl.violations.map((v) => ({ ...v, around: tl.around(v.t) })),
      elapsedMs: tl.now(),
    };
  } finally {
    chaosOn = false;
    writing = false;
    await Promise.race([Promise.all(loops), sleep(10_000)]);
    await recorder?.close().catch(() => {});
    if (probesStarted) await d.stopProbes().catch(() => {});
    await d.stop().catch((err) => echo(`stopping the deployment: ${String(err)}`));
  }
}

async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await Promise.resolve(check()).catch(() => false)) return true;
    await sleep(200);
  }
  return false;
}
