// What a test file needs to reach the shared etcd under a prefix of its own.
import { randomBytes } from "node:crypto";
import { inject } from "vitest";

export function sharedEtcdEndpoints(): string[] {
  return inject("etcdEndpoints");
}

/** A key prefix no other test uses, so test files can share one etcd. */
export function uniquePrefix(label = "t"): string {
  return `/kvc-test/${label}-${randomBytes(4).toString("hex")}`;
}
