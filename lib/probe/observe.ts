// One look at one node: is it alive, which version does it hold, what does it believe.
import { connect } from "node:net";
import { errorMessage } from "../errors.js";
import {
  isNodeError,
  type NodeLine,
  type NodePool,
  type ReplicationInfo,
  withNode,
} from "../kvrocks/index.js";
import type { ClusterNode } from "../model/index.js";

export interface Observation {
  node: ClusterNode;
  /** Answered at all (a node restoring a backup is alive, just not serving). */
  alive: boolean;
  /** CLUSTERDOWN ... not initialized: alive, version -1, needs the topology. */
  notInitialized: boolean;
  loading: boolean;
  version: number | null;
  view: NodeLine[] | null;
  /** INFO replication + keyspace: role, link, `sequence`; null when it could not be read. */
  replication: ReplicationInfo | null;
  error: string | null;
  /**
   * The error reply it gave instead of its view (NOAUTH, WRONGPASS, `ERR max number of
   * clients reached`, ...): the process is up and answering, so it is alive, but the
   * controller cannot read or push to it. Never a reason to fail it over: a failover would
   * push to it with the same error and leave two masters taking writes. Null otherwise.
   */
  unmanageable: string | null;
  /**
   * Why it did not answer: refused (nothing listens: the process is gone), timeout (stalled,
   * overloaded or cut off), or other (reset, closed, not RESP); null when it answered (an
   * error reply is an answer: see `unmanageable`).
   */
  failure: FailureKind | null;
}

export type FailureKind = "refused" | "timeout" | "other";

function failureKind(err: unknown): FailureKind {
  if (!isNodeError(err)) return "other";
  if (err.failure === "timeout") return "timeout";
  if (err.failure === "unreachable" && /ECONNREFUSED/.test(err.message)) return "refused";
  return "other";
}

export async function observeNode(
  node: ClusterNode,
  timeoutMs: number,
  pool?: NodePool,
): Promise<Observation> {
  const base = {
    node,
    notInitialized: false,
    loading: false,
    version: null,
    view: null,
    replication: null,
    error: null,
    unmanageable: null,
    failure: null,
  };
  try {
    const options = { password: node.password, timeoutMs };
    const use = pool ? pool.use.bind(pool) : withNode;
    return await use(node.addr, options, async (client) => {
      // One write; an uninitialized node fails CLUSTER NODES, handled below. Every
      // CLUSTER NODES line carries the node's cluster version as its config epoch, so no
      // CLUSTER INFO (which makes Kvrocks count all 16384 slots) is needed for it.
      // INFO is read only to keep what failover needs (who holds data): missing, it is null.
      try {
        const { view, replication } = await client.probeView();
        const version = versionIn(view) ?? (await client.version());
        return { ...base, alive: true, version, view, replication };
      } catch (err) {
        if (!(isNodeError(err) && err.notInitialized)) throw err;
        // Not initialized, yet it may hold data (a lost nodes.conf) or none (an empty data
        // dir): its `sequence` tells a master that came back empty from one that did not.
        const replication = await client.replicationInfo().catch(() => null);
        return { ...base, alive: true, notInitialized: true, version: -1, replication };
      }
    });
  } catch (err) {
    if (isNodeError(err) && err.loading) {
      return { ...base, alive: true, loading: true, error: err.reply ?? errorMessage(err) };
    }
    if (isNodeError(err) && err.failure === "reply") {
      const reply = err.reply ?? errorMessage(err);
      return { ...base, alive: true, error: reply, unmanageable: reply };
    }
    const failure = failureKind(err);
    if (failure === "other") {
      // A reset or close right after connecting may be a node that answered the connection
      // itself with an error and closed it (`ERR max number of clients reached`): the reply
      // is lost when our command crossed the close (the reset discards it). Look again.
      const greeting = await errorGreeting(node.addr, timeoutMs);
      if (greeting !== null)
        return { ...base, alive: true, error: greeting, unmanageable: greeting };
    }
    return { ...base, alive: false, error: errorMessage(err), failure };
  }
}

/** How long `errorGreeting` listens before concluding the node says nothing unasked. */
const GREETING_WAIT_MS = 200;

/**
 * Connects and, sending nothing, listens briefly: a node that refuses the client (Kvrocks at
 * `maxclients`) writes one error reply as soon as it accepts and closes; a healthy node says
 * nothing until asked. Returns that reply's text, or null (nothing said, refused, reset).
 * Sending nothing matters: a command that reaches the node before its close turns the close
 * into a reset, which discards the reply on our side.
 */
export function errorGreeting(addr: string, timeoutMs: number): Promise<string | null> {
  const at = addr.lastIndexOf(":");
  return new Promise((resolve) => {
    const socket = connect({ host: addr.slice(0, at), port: Number(addr.slice(at + 1)) });
    let text = "";
    const done = (reply: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    };
    const timer = setTimeout(() => done(null), Math.min(timeoutMs, GREETING_WAIT_MS));
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8");
      const end = text.indexOf("\r\n");
      if (end >= 0) done(text.startsWith("-") ? text.slice(1, end) : null);
    });
    socket.on("error", () => done(null));
    socket.on("close", () => done(null));
  });
}

/** The cluster version a CLUSTER NODES answer was printed at; null when it has no line. */
function versionIn(view: readonly NodeLine[]): number | null {
  return (view.find((line) => line.myself) ?? view[0])?.version ?? null;
}

/** The role a node says it has, from the `myself` line of its CLUSTER NODES. */
export function roleSeen(observation: Observation): "master" | "slave" | null {
  return observation.view?.find((line) => line.myself)?.role ?? null;
}
