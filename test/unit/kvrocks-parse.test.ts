import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  parseClusterInfo,
  parseClusterNodes,
  parseNodeInfo,
  parseReplicationInfo,
} from "../../lib/kvrocks/index.js";
import { Cluster } from "../../lib/model/index.js";
import { renderSetNodes, viewMatches } from "../../lib/topology/index.js";

// Replies as real Kvrocks 2.10.1 gives them (docs/kvrocks.md).
const a = "a".repeat(40);
const b = "b".repeat(40);
const c = "c".repeat(40);

describe("Kvrocks reply parsers", () => {
  it("reads the version and a running migration from CLUSTER INFO", () => {
    const info = parseClusterInfo(
      "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:3\r\ncluster_size:2\r\ncluster_current_epoch:25\r\ncluster_my_epoch:25\r\nmigrating_slot(s): 0-4095\r\ndestination_node: " +
        b +
        "\r\nmigrating_state: start\r\n",
    );
    expect(info.currentEpoch).toBe(25);
    expect(info.migrating).toEqual({
      ranges: [{ start: 0, stop: 4095 }],
      destination: b,
      state: "start",
    });
    expect(info.importing).toBeNull();
  });

  it("reads CLUSTER NODES lines, including a migrating master", () => {
    const nodes = parseClusterNodes(
      `${c} 127.0.0.1:31003@41003 myself,slave ${a} 1795568292126 1795568292127 2 connected\n` +
        `${b} 127.0.0.1:31002@41002 master - 1795568292126 1795568292127 2 connected 8192-16383\n` +
        `${a} 127.0.0.1:31001@41001 master - 1795568316889 1795568316890 25 connected 0-8191 [0-4095->-${b}]\n`,
    );
    expect(nodes).toHaveLength(3);
    expect(nodes[0]).toMatchObject({
      id: c,
      addr: "127.0.0.1:31003",
      myself: true,
      role: "slave",
      masterId: a,
      version: 2,
      slots: [],
    });
    expect(nodes[2]).toMatchObject({
      role: "master",
      masterId: null,
      version: 25,
      slots: [{ start: 0, stop: 8191 }],
      migratingTo: b,
    });
  });

  it("reads replication and sequence from INFO", () => {
    const info = parseReplicationInfo(
      "# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:31001\r\nmaster_link_status:up\r\nmaster_sync_unrecoverable_error:no\r\nmaster_sync_in_progress:0\r\nmaster_last_io_seconds_ago:0\r\nslave_repl_offset:102\r\nslave_priority:100\r\nconnected_slaves:0\r\nmaster_repl_offset:102\r\n\r\n# Keyspace\r\n# WARN: DBSIZE SCAN never performed yet\r\ndb0:keys=0,expires=0,avg_ttl=0,expired=0\r\nsequence:102\r\nused_db_size:0\r\nused_percent: 0%\r\n",
    );
    expect(info).toMatchObject({
      role: "slave",
      masterPort: 31001,
      masterLinkUp: true,
      syncInProgress: false,
      slaveReplOffset: 102,
      sequence: 102,
    });
  });

  // Full INFO answers of real Kvrocks 2.10.1 after 500 SETs on a master with two replicas.
  const fixture = (name: string) =>
    readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8").replace(/\r?\n/g, "\r\n");

  it("reads a master's statistics from a real INFO answer, keys from the estimate", () => {
    expect(parseNodeInfo(fixture("info-2.10.1-master.txt"))).toEqual({
      version: "2.10.1",
      uptimeSeconds: 8,
      usedMemoryBytes: 32894976,
      usedDiskBytes: 186297610240,
      keys: 500,
      opsPerSec: 317,
      connectedClients: 2,
      role: "master",
      sequence: 500,
      masterReplOffset: 500,
      loading: false,
    });
  });

  it("reads a replica's statistics from a real INFO answer", () => {
    expect(parseNodeInfo(fixture("info-2.10.1-replica.txt"))).toMatchObject({
      role: "slave",
      keys: 500,
      sequence: 500,
    });
  });

  it("reads a loading node, whose INFO has no Replication, Keyspace or RocksDB", () => {
    const loading = fixture("info-2.10.1-master.txt")
      .split("\r\n\r\n")
      .filter((section) => !/^# (Replication|Keyspace|RocksDB)/.test(section))
      .join("\r\n\r\n")
      .replace("loading:0", "loading:1");
    expect(parseNodeInfo(loading)).toMatchObject({ loading: true, keys: 0, sequence: 0 });
  });

  it("throws on a reply that is not INFO", () => {
    expect(() => parseNodeInfo("garbage")).toThrow();
  });

  it("throws on a reply that is not CLUSTER INFO", () => {
    expect(() => parseClusterInfo("garbage")).toThrow();
    expect(() => parseClusterNodes("x y z")).toThrow();
  });
});

describe("topology text", () => {
  const cluster = Cluster.parse({
    name: "c1",
    version: 2,
    shards: [
      {
        nodes: [
          { id: a, addr: "127.0.0.1:31001", role: "master" },
          { id: c, addr: "127.0.0.1:31003", role: "slave" },
        ],
        slot_ranges: ["0-8191"],
      },
      { nodes: [{ id: b, addr: "127.0.0.1:31002", role: "master" }], slot_ranges: ["8192-16383"] },
    ],
  });

  it("renders masters with their ranges and slaves with their master", () => {
    expect(renderSetNodes(cluster)).toBe(
      `${a} 127.0.0.1 31001 master - 0-8191\n${c} 127.0.0.1 31003 slave ${a}\n${b} 127.0.0.1 31002 master - 8192-16383`,
    );
  });

  it("matches a node's CLUSTER NODES view of the same topology and not a different one", () => {
    const lines = `${c} 127.0.0.1:31003@41003 myself,slave ${a} 0 0 2 connected\n${b} 127.0.0.1:31002@41002 master - 0 0 2 connected 8192-16383\n${a} 127.0.0.1:31001@41001 master - 0 0 2 connected 0-8191`;
    expect(viewMatches(cluster, parseClusterNodes(lines))).toBe(true);
    expect(viewMatches(cluster, parseClusterNodes(lines.replace("8192-16383", "8193-16383")))).toBe(
      false,
    );
  });

  it("matches a view whose addresses are other spellings of the stored ones (h:06379 is h:6379)", () => {
    // Built as a caller may build it, without the schema's canonical spelling.
    const padded: Cluster = structuredClone(cluster);
    padded.shards[0]!.nodes[0]!.addr = "127.0.0.1:031001";
    padded.shards[1]!.nodes[0]!.addr = "127.1:31002";
    const lines = `${c} 127.0.0.1:31003@41003 myself,slave ${a} 0 0 2 connected\n${b} 127.0.0.1:31002@41002 master - 0 0 2 connected 8192-16383\n${a} 127.0.0.1:31001@41001 master - 0 0 2 connected 0-8191`;
    expect(viewMatches(padded, parseClusterNodes(lines))).toBe(true);
    expect(
      viewMatches(cluster, parseClusterNodes(lines.replace("127.0.0.1:31002", "127.1:31002"))),
    ).toBe(true);
  });
});
