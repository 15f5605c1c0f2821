import { KvcError } from "../errors.js";

/** Why a call to a Kvrocks node failed; the probe counts all of them as failures. */
export type NodeFailure =
  | "timeout" // no answer within the deadline (includes a node that accepts and never answers)
  | "unreachable" // connection refused, reset or closed
  | "reply" // the node answered with an error reply (text in `reply`)
  | "bad_reply"; // the node answered something we cannot read

export class NodeError extends KvcError {
  constructor(
    readonly addr: string,
    readonly failure: NodeFailure,
    message: string,
    /** The node's error reply, verbatim, when `failure` is `reply`. */
    readonly reply?: string,
  ) {
    super("node_error", `${addr}: ${message}`);
  }

  /** `CLUSTERDOWN The cluster is not initialized`: the node has never been given a topology. */
  get notInitialized(): boolean {
    return this.reply?.startsWith("CLUSTERDOWN The cluster is not initialized") ?? false;
  }

  /** `LOADING ...`: alive (restoring a backup) but not able to serve. */
  get loading(): boolean {
    return this.reply?.startsWith("LOADING") ?? false;
  }
}

export function isNodeError(err: unknown): err is NodeError {
  return err instanceof NodeError;
}
