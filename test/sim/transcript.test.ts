// Replays the reference session of docs/kvrocks.md (real Kvrocks 2.10.1) against the simulator,
// in the same order, with the same node ids. Ports differ (the sim picks free ones), so
// addresses are built from the nodes under test.

import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SimNode,
  startSimNode,
  startSimNodes,
  stopAll,
} from "../support/kvrocks-sim/server.js";
import { A, B, C, call, client, D, errorOf, nodesText, pushTopology, waitFor } from "./helpers.js";

let n1: SimNode;
let n2: SimNode;
let n3: SimNode;
let c1: Redis;
let c2: Redis;
let c3: Redis;

const good = () =>
  nodesText([
    { id: A, node: n1, slots: "0-8191" },
    { id: B, node: n2, slots: "8192-16383" },
    { id: C, node: n3, masterOf: A },
  ]);

const CLUSTERX_USAGE =
  "ERR CLUSTERX command, CLUSTERX VERSION|MYID|SETNODEID|SETNODES|SETSLOT|MIGRATE";

beforeAll(async () => {
  [n1, n2, n3] = (await startSimNodes(3, { migrationDelayMs: 100 })) as [SimNode, SimNode, SimNode];
  [c1, c2, c3] = await Promise.all([client(n1), client(n2), client(n3)]);
});

afterAll(async () => {
  for (const c of [c1, c2, c3]) c?.disconnect();
  await stopAll();
});

describe("real Kvrocks transcript, replayed in order", () => {
  it("before any SETNODES: CLUSTERDOWN for topology reads, -1 version, empty id", async () => {
    expect(await errorOf(call(c1, "CLUSTER", "INFO"))).toBe(
      "CLUSTERDOWN The cluster is not initialized",
    );
    expect(await errorOf(call(c1, "CLUSTER", "NODES"))).toBe(
      "CLUSTERDOWN The cluster is not initialized",
    );
    expect(await call(c1, "CLUSTERX", "VERSION")).toBe("-1");
    expect(await call(c1, "CLUSTERX", "MYID")).toBe("");
    expect(await errorOf(call(c1, "CLUSTER", "SLOTS"))).toBe(
      "CLUSTERDOWN The cluster is not initialized",
    );
    expect(await errorOf(call(c1, "SET", "k", "v"))).toBe("CLUSTERDOWN Hash slot not served");
  });

  it("SETNODEID refuses an id that is not 40 characters with the CLUSTERX usage line", async () => {
    expect(await errorOf(call(c1, "CLUSTERX", "SETNODEID", "abc"))).toBe(CLUSTERX_USAGE);
    expect(await call(c1, "CLUSTERX", "SETNODEID", "z".repeat(40))).toBe("OK");
    expect(await call(c1, "CLUSTERX", "MYID")).toBe("z".repeat(40));
  });

  it("SETNODES: accepts version 0, refuses a non-integer version", async () => {
    expect(await call(c1, "CLUSTERX", "SETNODES", good(), 0)).toBe("OK");
    expect(await errorOf(call(c1, "CLUSTERX", "SETNODES", good(), "abc"))).toBe(
      "ERR Invalid version",
    );
  });

  it("SETNODES at an equal version answers OK without even parsing the text", async () => {
    expect(await call(c1, "CLUSTERX", "SETNODES", good(), 1)).toBe("OK");
    for (const bad of [
      `${A} 127.0.0.1 1 boss -`,
      `${A} 127.0.0.1 1 master - 0-99999`,
      `${A} 127.0.0.1 1 master - 0-10\n${B} 127.0.0.1 2 master - 5-20`,
      `${C} 127.0.0.1 1 slave ${A} 0-10`,
    ]) {
      expect(await call(c1, "CLUSTERX", "SETNODES", bad, 1)).toBe("OK");
    }
    expect(await call(c1, "CLUSTERX", "VERSION")).toBe("1");
  });

  it("every node takes the good topology at version 2", async () => {
    expect(await pushTopology([c1, c2, c3], good(), 2)).toEqual(["OK", "OK", "OK"]);
  });

  it("SETNODES: lower version refused, equal is OK, force is OK, a bogus option is refused", async () => {
    expect(await errorOf(call(c1, "CLUSTERX", "SETNODES", good(), 1))).toBe(
      "ERR Invalid cluster version",
    );
    expect(await call(c1, "CLUSTERX", "SETNODES", good(), 2)).toBe("OK");
    // force also re-detects this node's id from its address (it was set to z… above).
    expect(await call(c1, "CLUSTERX", "SETNODES", good(), 2, "force")).toBe("OK");
    expect(await call(c1, "CLUSTERX", "MYID")).toBe(A);
    expect(await errorOf(call(c1, "CLUSTERX", "SETNODES", good(), 2, "bogus"))).toBe(
      "ERR Invalid setnodes options",
    );
  });

  it("CLUSTER INFO after the topology, exactly", async () => {
    expect(await call(c1, "CLUSTER", "INFO")).toBe(
      "cluster_state:ok\r\n" +
        "cluster_slots_assigned:16384\r\n" +
        "cluster_slots_ok:16384\r\n" +
        "cluster_slots_pfail:0\r\n" +
        "cluster_slots_fail:0\r\n" +
        "cluster_known_nodes:3\r\n" +
        "cluster_size:2\r\n" +
        "cluster_current_epoch:2\r\n" +
        "cluster_my_epoch:2\r\n",
    );
  });

  it("CLUSTER NODES on the replica, in the transcript's format and order", async () => {
    const text = (await call(c3, "CLUSTER", "NODES")) as string;
    const lines = text.split("\n");
    expect(lines.pop()).toBe("");
    const ts = "(\\d+) (\\d+)";
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      new RegExp(
        `^${C} 127\\.0\\.0\\.1:${n3.port}@${n3.port + 10000} myself,slave ${A} ${ts} 2 connected$`,
      ),
    );
    expect(lines[1]).toMatch(
      new RegExp(
        `^${B} 127\\.0\\.0\\.1:${n2.port}@${n2.port + 10000} master - ${ts} 2 connected 8192-16383$`,
      ),
    );
    expect(lines[2]).toMatch(
      new RegExp(
        `^${A} 127\\.0\\.0\\.1:${n1.port}@${n1.port + 10000} master - ${ts} 2 connected 0-8191$`,
      ),
    );
    const [, ping, pong] = lines[0]!.match(/ (\d+) (\d+) 2 connected/)!;
    expect(Number(pong) - Number(ping)).toBe(1);
  });

  it("CLUSTER SLOTS: ranges with master then replicas as [host, port, id]", async () => {
    expect(await call(c1, "CLUSTER", "SLOTS")).toEqual([
      [0, 8191, ["127.0.0.1", n1.port, A], ["127.0.0.1", n3.port, C]],
      [8192, 16383, ["127.0.0.1", n2.port, B]],
    ]);
  });

  it("CLUSTER KEYSLOT, GET on the owner, MOVED elsewhere", async () => {
    expect(await call(c1, "CLUSTER", "KEYSLOT", "foo")).toBe(12182);
    expect(await call(c1, "CLUSTER", "KEYSLOT", "{user1}.a")).toBe(8106);
    expect(await call(c2, "SET", "foo", "bar")).toBe("OK");
    expect(await call(c2, "GET", "foo")).toBe("bar");
    expect(await errorOf(call(c1, "GET", "foo"))).toBe(`MOVED 12182 127.0.0.1:${n2.port}`);
  });

  it("INFO on the master: transcript lines, in order, within the full text", async () => {
    const text = (await call(c1, "INFO")) as string;
    const expected = [
      "# Server",
      "version:2.10.1",
      "kvrocks_version:2.10.1",
      "redis_version:4.0.0",
      "git_sha1:dc4d5303",
      "kvrocks_git_sha1:dc4d5303",
      "redis_mode:cluster",
      "kvrocks_mode:cluster",
      "# Clients",
      "# Memory",
      "# Persistence",
      "# Stats",
      "# Replication",
      "role:master",
      "connected_slaves:1",
      `slave0:ip=127.0.0.1,port=${n3.port},offset=0,lag=0`,
      "master_repl_offset:0",
      "# CPU",
      "# Commandstats",
      "# Cluster",
      "cluster_enabled:1",
      "# Keyspace",
      "# WARN: DBSIZE SCAN never performed yet",
      "db0:keys=0,expires=0,avg_ttl=0,expired=0",
      "sequence:0",
      "used_db_size:0",
      "used_percent: 0%",
      "used_disk_size:186148818944",
      "used_disk_percent: 68.803%",
      "# RocksDB",
      "estimate_keys[default]:0",
      "memtable_count_limit_slowdown[default]:0",
      "estimate_keys[metadata]:0",
      "memtable_flush_pending:0",
    ];
    const lines = text.split("\r\n");
    let at = 0;
    for (const want of expected) {
      const found = lines.indexOf(want, at);
      expect(found, `line ${JSON.stringify(want)} after line ${at}`).toBeGreaterThanOrEqual(at);
      at = found + 1;
    }
    // Sections are separated by one empty line, as Kvrocks joins them.
    expect(text).toContain("master_repl_offset:0\r\n\r\n# CPU\r\n");
  });

  it("INFO replication on the replica, exactly", async () => {
    expect(await call(c3, "INFO", "replication")).toBe(
      "# Replication\r\n" +
        "role:slave\r\n" +
        "master_host:127.0.0.1\r\n" +
        `master_port:${n1.port}\r\n` +
        "master_link_status:up\r\n" +
        "master_sync_unrecoverable_error:no\r\n" +
        "master_sync_in_progress:0\r\n" +
        "master_last_io_seconds_ago:0\r\n" +
        "slave_repl_offset:0\r\n" +
        "slave_priority:100\r\n" +
        "connected_slaves:0\r\n" +
        "master_repl_offset:0\r\n",
    );
  });

  it("INFO keyspace on the replica, exactly", async () => {
    expect(await call(c3, "INFO", "keyspace")).toBe(
      "# Keyspace\r\n" +
        "# WARN: DBSIZE SCAN never performed yet\r\n" +
        "db0:keys=0,expires=0,avg_ttl=0,expired=0\r\n" +
        "sequence:0\r\n" +
        "used_db_size:0\r\n" +
        "max_db_size:0\r\n" +
        "used_percent: 0%\r\n" +
        "disk_capacity:270553346430\r\n" +
        "used_disk_size:186148818944\r\n" +
        "used_disk_percent: 68.803%\r\n",
    );
  });

  it("HELLO 3 answers RESP2 with proto 2", async () => {
    expect(await call(c1, "HELLO", 3)).toEqual([
      "server",
      "redis",
      "version",
      "4.0.0",
      "proto",
      2,
      "mode",
      "cluster",
      "role",
      "master",
      "modules",
      null,
    ]);
  });

  it("SETSLOT: version must be current+1, target must be a master", async () => {
    expect(await errorOf(call(c1, "CLUSTERX", "SETSLOT", 5, "NODE", B, 2))).toBe(
      "ERR Invalid cluster version",
    );
    expect(await errorOf(call(c1, "CLUSTERX", "SETSLOT", 5, "NODE", C, 3))).toBe(
      "ERR The node isn't a master",
    );
  });

  it("SETNODES validation: each error leaves the version alone", async () => {
    const h = "127.0.0.1";
    const p = n3.port;
    const cases: [string, number, string][] = [
      [`${A} ${h} ${n1.port} master - 0-16383`, 11, "OK"],
      [`${C} ${h} ${p} boss -`, 12, "ERR Invalid cluster node role"],
      [`${A} ${h} ${n1.port} master - 0-16384`, 13, "ERR Slot is out of range"],
      [`${A} ${h} ${n1.port} master - 100-50`, 14, "ERR Slot is out of range"],
      [
        `${A} ${h} 1 master - 0-100\n${B} ${h} 2 master - 100-200`,
        15,
        "ERR Slot distribution is overlapped",
      ],
      [`${C} ${h} ${p} slave ${A} 0-10`, 16, "ERR Invalid cluster nodes info"],
      [`${A} ${h} ${n1.port} master ${B} 0-10`, 17, "ERR Invalid cluster node id"],
      [`${A} ${h} 70000 master - 0-10`, 18, "ERR Invalid cluster node port"],
      [`abc ${h} 1 master - 0-10`, 19, "ERR Invalid cluster node id"],
      [`${"g".repeat(40)} ${h} ${p} master - 0-16383`, 20, "OK"],
      [`${A} ${h} ${n1.port} master`, 21, "ERR Invalid cluster nodes info"],
      [`${C} ${h} ${p} slave ${D}`, 22, "OK"],
      [`${A} ${h} ${n1.port} master - 0-100`, 23, "OK"],
      [`${A} ${h} ${n1.port} master -\n${B} ${h} ${n2.port} master - 0-16383`, 24, "OK"],
    ];
    let version = 2;
    for (const [text, v, want] of cases) {
      const got =
        want === "OK"
          ? await call(c3, "CLUSTERX", "SETNODES", text, v)
          : await errorOf(call(c3, "CLUSTERX", "SETNODES", text, v));
      expect(got, `version ${v}`).toBe(want);
      if (want === "OK") version = v;
      expect(await call(c3, "CLUSTERX", "VERSION")).toBe(String(version));
    }
  });

  it("every node takes the good topology at version 25", async () => {
    expect(await pushTopology([c1, c2, c3], good(), 25)).toEqual(["OK", "OK", "OK"]);
  });

  it("writes on the master: cached DBSIZE stays 0, sequence counts, the replica follows", async () => {
    expect(await call(c1, "CLUSTER", "KEYSLOT", "key:1")).toBe(6657);
    let written = 0;
    for (let i = 0; written < 102; i++) {
      const key = `key:${i}`;
      if (((await call(c1, "CLUSTER", "KEYSLOT", key)) as number) > 8191) continue;
      expect(await call(c1, "SET", key, `v${i}`)).toBe("OK");
      written++;
    }
    expect(await call(c1, "DBSIZE")).toBe(0);
    const ks = (await call(c1, "INFO", "keyspace")) as string;
    expect(ks).toContain("db0:keys=0,expires=0,avg_ttl=0,expired=0\r\nsequence:102\r\n");
    const repl = (await call(c3, "INFO", "replication")) as string;
    expect(repl).toContain(
      "master_link_status:up\r\nmaster_sync_unrecoverable_error:no\r\nmaster_sync_in_progress:0\r\n",
    );
    expect(repl).toContain("slave_repl_offset:102\r\n");
    expect(repl).toContain("master_repl_offset:102\r\n");
    expect(await call(c3, "INFO", "keyspace")).toContain("sequence:102\r\n");
  });

  it("MIGRATE errors, in Kvrocks's order", async () => {
    expect(await errorOf(call(c2, "CLUSTERX", "MIGRATE", 0, A))).toBe(
      "ERR Can't migrate slot which doesn't belong to me",
    );
    expect(await errorOf(call(c3, "CLUSTERX", "MIGRATE", 0, B))).toBe(
      "ERR Can't migrate slot which doesn't belong to me",
    );
    expect(await errorOf(call(c1, "CLUSTERX", "MIGRATE", 0, C))).toBe(
      "ERR Can't migrate slot to a slave",
    );
    expect(await errorOf(call(c1, "CLUSTERX", "MIGRATE", 0, A))).toBe(
      "ERR Can't migrate slot to myself",
    );
    expect(await errorOf(call(c1, "CLUSTERX", "MIGRATE", 0, D))).toBe(
      "ERR Can't find the destination node id",
    );
    expect(await errorOf(call(c1, "CLUSTERX", "MIGRATE", "0-20000", B))).toBe(
      "ERR Invalid slot range: `0-20000`. The slot range `int1-int2` needs to satisfy the condition (int1 <= int2).",
    );
  });

  it("MIGRATE 0-4095: start on both sides, then success", async () => {
    expect(await call(c1, "CLUSTERX", "MIGRATE", "0-4095", B)).toBe("OK");
    expect(await call(c1, "CLUSTER", "INFO")).toMatch(
      new RegExp(
        `cluster_my_epoch:25\r\nmigrating_slot\\(s\\): 0-4095\r\ndestination_node: ${B}\r\nmigrating_state: start\r\n$`,
      ),
    );
    expect(await call(c2, "CLUSTER", "INFO")).toMatch(
      /cluster_my_epoch:25\r\nimporting_slot\(s\): 0-4095\r\nimport_state: start\r\n$/,
    );
    const nodes = (await call(c1, "CLUSTER", "NODES")) as string;
    const mine = nodes.split("\n").find((l) => l.startsWith(A))!;
    expect(mine).toMatch(
      new RegExp(
        `^${A} 127\\.0\\.0\\.1:${n1.port}@${n1.port + 10000} myself,master - \\d+ \\d+ 25 connected 0-8191 \\[0-4095->-${B}\\]$`,
      ),
    );
    // The real capture's second MIGRATE landed after the first had already finished its copy;
    // while the copy still runs Kvrocks answers this (SlotMigrator::PerformSlotRangeMigration).
    expect(await errorOf(call(c1, "CLUSTERX", "MIGRATE", "100-200", B))).toBe(
      "ERR There is already a migrating job",
    );

    await waitFor(
      () => call(c1, "CLUSTER", "INFO") as Promise<string>,
      (t) => t.includes("migrating_state: success"),
    );
    expect(await call(c1, "CLUSTER", "INFO")).toMatch(
      new RegExp(
        `cluster_my_epoch:25\r\nmigrating_slot\\(s\\): 0-4095\r\ndestination_node: ${B}\r\nmigrating_state: success\r\n$`,
      ),
    );
    expect(await call(c2, "CLUSTER", "INFO")).toMatch(
      /cluster_my_epoch:25\r\nimporting_slot\(s\): 0-4095\r\nimport_state: success\r\n$/,
    );
    const after = (await call(c1, "CLUSTER", "NODES")) as string;
    expect(after.split("\n").find((l) => l.startsWith(A))).toMatch(/ 25 connected 0-8191$/);
  });

  it("after success, before the new topology: the migrated range moves, the rest stays", async () => {
    expect(await call(c1, "GET", "key:1")).toBe("v1");
    expect(await errorOf(call(c2, "GET", "key:1"))).toBe(`MOVED 6657 127.0.0.1:${n1.port}`);
    // key:0 is in slot 2592, inside 0-4095: the source sends it on, the target serves it.
    expect(await errorOf(call(c1, "GET", "key:0"))).toBe(`MOVED 2592 127.0.0.1:${n2.port}`);
    expect(await call(c2, "GET", "key:0")).toBe("v0");
    expect(await call(c1, "DBSIZE")).toBe(0);
    expect(await call(c1, "SET", "key:1", "x")).toBe("OK");
    expect(await errorOf(call(c1, "CLUSTERX", "MIGRATE", "0-10", B))).toBe(
      "ERR Can't migrate slot which has been migrated",
    );
    expect(await errorOf(call(c1, "CLUSTERX", "MIGRATE", "100-200", B))).toBe(
      "ERR Can't migrate slot which has been migrated",
    );
  });

  it("the new topology at 26: migration lines stay, source drops the moved keys", async () => {
    const moved = nodesText([
      { id: A, node: n1, slots: "4096-8191" },
      { id: B, node: n2, slots: "0-4095 8192-16383" },
      { id: C, node: n3, masterOf: A },
    ]);
    expect(await pushTopology([c1, c2, c3], moved, 26)).toEqual(["OK", "OK", "OK"]);
    expect(await call(c1, "CLUSTER", "INFO")).toMatch(
      new RegExp(
        `cluster_my_epoch:26\r\nmigrating_slot\\(s\\): 0-4095\r\ndestination_node: ${B}\r\nmigrating_state: success\r\n$`,
      ),
    );
    expect(await call(c1, "DBSIZE")).toBe(0);
    expect(await call(c2, "CLUSTER", "INFO")).toMatch(
      /cluster_my_epoch:26\r\nimporting_slot\(s\): 0-4095\r\nimport_state: success\r\n$/,
    );
    expect(await call(c2, "DBSIZE")).toBe(0);
    expect(n1.read("key:0")).toBeUndefined();
    expect(n3.read("key:0")).toBeUndefined();
    expect(n2.read("key:0")).toBe("v0");
    expect(await call(c2, "GET", "key:0")).toBe("v0");
    expect(await errorOf(call(c1, "GET", "key:0"))).toBe(`MOVED 2592 127.0.0.1:${n2.port}`);
  });

  it("a migration to a stopped target ends in fail", async () => {
    await n2.stop();
    expect(await call(c1, "CLUSTERX", "MIGRATE", "5000-5100", B)).toBe("OK");
    const info = await waitFor(
      () => call(c1, "CLUSTER", "INFO") as Promise<string>,
      (t) => !t.includes("migrating_state: start"),
    );
    expect(info).toMatch(
      new RegExp(
        `cluster_my_epoch:26\r\nmigrating_slot\\(s\\): 5000-5100\r\ndestination_node: ${B}\r\nmigrating_state: fail\r\n$`,
      ),
    );
    await n2.start();
  });
});

describe("real Kvrocks transcript: auth and cluster mode", () => {
  it("a node with requirepass: NOAUTH, wrong password, AUTH, HELLO 3 AUTH", async () => {
    const n4 = await startSimNode({ password: "s3cret" });
    const c = await client(n4);
    expect(await errorOf(call(c, "PING"))).toBe("NOAUTH Authentication required.");
    expect(await errorOf(call(c, "CLUSTER", "INFO"))).toBe("NOAUTH Authentication required.");
    expect(await errorOf(call(c, "AUTH", "wrong"))).toBe("ERR Invalid password");
    expect(await call(c, "AUTH", "s3cret")).toBe("OK");
    expect(await call(c, "CLUSTERX", "VERSION")).toBe("-1");
    const fresh = await client(n4);
    const hello = (await call(fresh, "HELLO", 3, "AUTH", "default", "s3cret")) as unknown[];
    expect(hello.slice(0, 4)).toEqual(["server", "redis", "version", "4.0.0"]);
    expect(await call(fresh, "PING")).toBe("PONG");
    c.disconnect();
    fresh.disconnect();
  });

  it("a node without cluster mode refuses CLUSTER and CLUSTERX", async () => {
    const n5 = await startSimNode({ clusterEnabled: false });
    const c = await client(n5);
    expect(await errorOf(call(c, "CLUSTERX", "VERSION"))).toBe("ERR Cluster mode is not enabled");
    expect(await errorOf(call(c, "CLUSTER", "INFO"))).toBe("ERR Cluster mode is not enabled");
    expect(await call(c, "INFO", "cluster")).toBe("# Cluster\r\ncluster_enabled:0\r\n");
    c.disconnect();
  });
});
