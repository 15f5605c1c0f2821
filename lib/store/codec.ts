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

/**
 * The node addresses in a stored cluster, read leniently: the address checks must see
 * every address in etcd, including those of clusters that fail the schema.
 */
export function addressesIn(text: string): string[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return [];
  }
  const out: string[] = [];
  const shards = (json as { shards?: unknown })?.shards;
  if (!Array.isArray(shards)) return out;
  for (const shard of shards) {
    const nodes = (shard as { nodes?: unknown })?.nodes;
    if (!Array.isArray(nodes)) continue;
    for (const node of nodes) {
      const addr = (node as { addr?: unknown })?.addr;
      if (typeof addr === "string") out.push(addr.trim());
    }
  }
  return out;
}
