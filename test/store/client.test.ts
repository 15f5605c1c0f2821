import { GRPCDeadlineExceededError, GRPCUnavailableError } from "etcd3";
import { describe, expect, it } from "vitest";
import { KvcError } from "../../lib/errors.js";
import { createEtcd, toStoreError } from "../../lib/store/index.js";

describe("etcd client", () => {
  it("refuses a configuration without endpoints", () => {
    expect(() => createEtcd({ endpoints: [" "] })).toThrow(/no etcd endpoints/);
  });

  it("maps connection failures and deadlines to unavailable", () => {
    for (const err of [
      new GRPCUnavailableError("14 UNAVAILABLE: No connection established"),
      new GRPCDeadlineExceededError("4 DEADLINE_EXCEEDED: Deadline exceeded"),
      new Error("connect ECONNREFUSED 127.0.0.1:2379"),
    ]) {
      const mapped = toStoreError(err) as KvcError;
      expect(mapped.kind).toBe("unavailable");
      expect(mapped.message).toBe(`etcd is unreachable: ${err.message}`);
      expect(mapped.cause).toBe(err);
    }
  });

  it("passes KvcErrors and unknown errors through unchanged", () => {
    const own = new KvcError("conflict", "lost");
    expect(toStoreError(own)).toBe(own);
    const bug = new TypeError("x is undefined");
    expect(toStoreError(bug)).toBe(bug);
  });
});
