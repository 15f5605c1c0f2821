// The shape of a simulated command, after Kvrocks's CommandAttributes + Commander: arity
// and flags checked by the dispatcher, `prepare` = Parse (errors before routing),
// the returned function = Execute (after the cluster routing check).

import type { KvrocksNode } from "../node.js";
import type { Session } from "../session.js";

export type Reply = Buffer | Promise<Buffer>;

export interface CommandContext {
  node: KvrocksNode;
  session: Session;
  /** Raw arguments, the command name first. */
  args: Buffer[];
  /** The same, decoded as UTF-8, for arguments that are text. */
  argv: string[];
}

export interface KeySpec {
  first: number;
  /** Negative counts from the end, as in Redis command tables. */
  last: number;
  step: number;
}

export interface CommandSpec {
  name: string;
  /** Exact count when positive, minimum count when negative (command name included). */
  arity: number;
  write?: boolean;
  /** Allowed while the node is loading (Kvrocks's "ok-loading"). */
  okLoading?: boolean;
  keys?: KeySpec;
  prepare(ctx: CommandContext): () => Reply;
}

export const lower = (s: string | undefined): string => (s ?? "").toLowerCase();
