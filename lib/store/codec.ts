// Turning etcd values into typed documents and back. Bad data in etcd is an `invalid`
// error naming the key, never a crash, and never blocks reading the other keys.
import type { z } from "zod";
import { invalid, type KvcError } from "../errors.js";
import { Cluster, clusterToJson } from "../model/index.js";

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ");
}

/** Parses JSON text with a schema; the error message starts with `what`. */
export function decodeJson<T>(what: string, text: string, schema: z.ZodType<T>): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw badData(what, `not JSON (${(err as Error).message})`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw badData(what, describeIssues(parsed.error));
  return parsed.data;
}

function badData(what: string, problem: string): KvcError {
  return invalid(`${what} in etcd is invalid: ${problem}`);
}

export function decodeCluster(ns: string, name: string, text: string): Cluster {
  return decodeJson(`cluster ${ns}/${name}`, text, Cluster);
}

export function encodeCluster(cluster: Cluster): string {
  return JSON.stringify(clusterToJson(cluster));
}

/** The nodes of a stored cluster (address and id, either may be missing), read leniently. */
function nodesIn(text: string): { addr?: unknown; id?: unknown }[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return [];
  }
  const out: { addr?: unknown; id?: unknown }[] = [];
  const shards = (json as { shards?: unknown })?.shards;
  if (!Array.isArray(shards)) return out;
  for (const shard of shards) {
    const nodes = (shard as { nodes?: unknown })?.nodes;
    if (!Array.isArray(nodes)) continue;
    for (const node of nodes) if (node && typeof node === "object") out.push(node);
  }
  return out;
}

/**
 * The node addresses in a stored cluster, read leniently: the address checks must see
 * every address in etcd, including those of clusters that fail the schema.
 */
export function addressesIn(text: string): string[] {
  return nodesIn(text).flatMap((n) => (typeof n.addr === "string" ? [n.addr.trim()] : []));
}

/** The node ids in a stored cluster, read as leniently as `addressesIn`. */
export function nodeIdsIn(text: string): string[] {
  return nodesIn(text).flatMap((n) => (typeof n.id === "string" ? [n.id] : []));
}
