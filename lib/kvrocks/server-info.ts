// `INFO server`: which Kvrocks a node runs. Kept apart from the replication parsers.

import type { KvrocksClient } from "./client.js";
import { NodeError } from "./errors.js";

/** `kvrocks_version` (older releases only say `version`); null when the reply has neither. */
export function parseKvrocksVersion(text: string): string | null {
  const line = (key: string) =>
    new RegExp(`^${key}:[ \\t]*(\\S+)[ \\t]*\\r?$`, "m").exec(text)?.[1];
  return line("kvrocks_version") ?? line("version") ?? null;
}

export async function readKvrocksVersion(client: KvrocksClient): Promise<string> {
  const reply = await client.call("INFO", "server");
  const version = typeof reply === "string" ? parseKvrocksVersion(reply) : null;
  if (version === null) {
    throw new NodeError(client.addr, "bad_reply", "INFO server names no kvrocks_version");
  }
  return version;
}
