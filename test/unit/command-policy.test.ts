// The commands route's one rule (lib/ops/command-policy.ts), as a table: who may send what.
import { describe, expect, it } from "vitest";
import { type CommandCaller, commandCaller, commandVerdict } from "../../lib/ops/index.js";
import { OPEN_ACCESS } from "../../lib/tokens.js";

type Expect = "ok" | 400 | 403;
// [command, force, admin, write, read]
const TABLE: [string, boolean, Expect, Expect, Expect][] = [
  // node facts: every token
  ["INFO server", false, "ok", "ok", "ok"],
  ["DBSIZE", false, "ok", "ok", "ok"],
  ["config get maxclients", false, "ok", "ok", "ok"],
  ["SLOWLOG GET", false, "ok", "ok", "ok"],
  ["CLUSTER INFO", false, "ok", "ok", "ok"],
  ["CLUSTER NODES", false, "ok", "ok", "ok"],
  ["CLUSTER SLOTS", false, "ok", "ok", "ok"],
  ["CLUSTER KEYSLOT k", false, "ok", "ok", "ok"],
  ["CLUSTER COUNTKEYSINSLOT 0", false, "ok", "ok", "ok"],
  ["CLUSTER SHARDS", false, "ok", "ok", "ok"],
  ["CLUSTERX VERSION", false, "ok", "ok", "ok"],
  // keys and values: tokens that may change the namespace
  ["GET k", false, "ok", "ok", 403],
  ["SET k v", false, "ok", "ok", 403],
  ["SCAN 0", false, "ok", "ok", 403],
  ["TYPE k", false, "ok", "ok", 403],
  ["TTL k", false, "ok", "ok", 403],
  ["DEL k", false, "ok", "ok", 403],
  ["HSET h f v", false, "ok", "ok", 403],
  ["ZADD z 1 m", false, "ok", "ok", 403],
  // admin only
  ["EVAL return 1 0", false, "ok", 403, 403],
  ["evalsha abc 0", false, "ok", 403, 403],
  ["FCALL f 0", false, "ok", 403, 403],
  ["FUNCTION LIST", false, "ok", 403, 403],
  ["SCRIPT FLUSH", false, "ok", 403, 403],
  ["DEBUG SLEEP 0", false, "ok", 403, 403],
  ["NAMESPACE GET *", false, "ok", 403, 403],
  ["CONFIG SET maxclients 100", false, "ok", 403, 403],
  ["CONFIG REWRITE", false, "ok", 403, 403],
  ["CLIENT KILL 127.0.0.1:1", false, "ok", 403, 403],
  ["KEYS *", false, "ok", 403, 403],
  ["BLPOP l 0", false, "ok", 403, 403],
  ["NOSUCHCOMMAND", false, "ok", 403, 403],
  ["FLUSHALL", true, "ok", 403, 403],
  ["FLUSHALL", false, 400, 403, 403],
  // the node password: nobody, force or not
  ["CONFIG SET requirepass x", true, 403, 403, 403],
  ["config set MASTERAUTH x", false, 403, 403, 403],
  // nobody: the topology, replication, long-lived calls
  ["CLUSTER RESET", false, 400, 400, 400],
  ["CLUSTERX SETNODEID x", false, 400, 400, 400],
  ["CLUSTER", false, 400, 400, 400],
  ["SLAVEOF NO ONE", false, 400, 400, 400],
  ["SHUTDOWN", false, 400, 400, 400],
  ["MONITOR", false, 400, 400, 400],
  ["SUBSCRIBE ch", false, 400, 400, 400],
  ["PSYNC ? -1", false, 400, 400, 400],
  ["", false, 400, 400, 400],
];

const outcome = (command: string, caller: CommandCaller, force: boolean): Expect => {
  const args = command === "" ? [] : command.split(" ");
  const verdict = commandVerdict(args, caller, force);
  if (verdict.allowed) return "ok";
  return verdict.kind === "invalid" ? 400 : 403;
};

describe("commandVerdict", () => {
  it.each(TABLE)("%s (force %s): admin %s, write %s, read %s", (command, force, a, w, r) => {
    expect([
      outcome(command, "admin", force),
      outcome(command, "write", force),
      outcome(command, "read", force),
    ]).toEqual([a, w, r]);
  });

  it("names the command and says only an admin token may send it, and why", () => {
    const verdict = commandVerdict(["eval", "return 1", "0"], "write", false);
    expect(verdict).toEqual({
      allowed: false,
      kind: "forbidden",
      reason: expect.stringMatching(/^EVAL: only an admin token may send it \(a script runs/),
    });
    const password = commandVerdict(["CONFIG", "SET", "requirepass", "x"], "admin", true);
    expect(password).toMatchObject({
      reason: expect.stringMatching(
        /kvctl set password.*PUT \.\.\.\/clusters\/\{cluster\}\/password/,
      ),
    });
  });
});

describe("commandCaller", () => {
  it("is admin for an admin of every namespace (and the open API), write for a token that may change the namespace, read otherwise", () => {
    expect(commandCaller(OPEN_ACCESS, "a")).toBe("admin");
    expect(commandCaller({ name: "x", role: "admin", namespaces: ["a"] }, "a")).toBe("write");
    expect(commandCaller({ name: "x", role: "write", namespaces: null }, "a")).toBe("write");
    expect(commandCaller({ name: "x", role: "write", namespaces: ["a"] }, "a")).toBe("write");
    expect(commandCaller({ name: "x", role: "read", namespaces: null }, "a")).toBe("read");
  });
});
