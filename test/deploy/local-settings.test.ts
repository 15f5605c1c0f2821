// The local stack's pure parts: ports and places from the environment, how etcd is found or
// installed, the kvrocks.conf it writes, and which probe lines reach the terminal.
import { describe, expect, it } from "vitest";
import { etcdArgs, etcdClientEnv, INSTALL_HELP, lookupEtcd } from "../../deploy/local/etcd.js";
import { kvrocksConfig } from "../../deploy/local/nodes.js";
import {
  clusterAddrs,
  DEFAULTS,
  etcdEndpoint,
  nodeAddrs,
  portsToCheck,
  settingsFrom,
} from "../../deploy/local/settings.js";
import { probeLineToShow } from "../../deploy/local/stack.js";

describe("settings", () => {
  it("uses fixed defaults: etcd 32379/32380, API 9379, nodes 30001-30008, state in .local/", () => {
    const s = settingsFrom({}, "/repo");
    expect(s).toMatchObject({
      dir: "/repo/.local",
      etcdPort: 32379,
      etcdPeerPort: 32380,
      apiPort: 9379,
      nodePort: 30001,
      prefix: "/kvrocks",
      token: undefined,
      kvrocksBin: undefined,
    });
    expect(nodeAddrs(s)).toHaveLength(8);
    expect(clusterAddrs(s)).toEqual({
      members: [30001, 30002, 30003, 30004, 30005, 30006].map((p) => `127.0.0.1:${p}`),
      spare: ["127.0.0.1:30007", "127.0.0.1:30008"],
    });
    expect(Object.keys(DEFAULTS)).toEqual([
      "KVC_LOCAL_ETCD_PORT",
      "KVC_LOCAL_ETCD_PEER_PORT",
      "KVC_PORT",
      "KVC_LOCAL_NODE_PORT",
    ]);
  });

  it("takes every port, the dir, the prefix, a token and the binaries from the environment", () => {
    const s = settingsFrom(
      {
        KVC_LOCAL_DIR: "tmp/x",
        KVC_PORT: "8000",
        KVC_LOCAL_ETCD_PORT: "8001",
        KVC_LOCAL_ETCD_PEER_PORT: "8002",
        KVC_LOCAL_NODE_PORT: "8100",
        KVC_ETCD_PREFIX: "/mine",
        KVC_API_TOKENS: " , t1,t2",
        KVROCKS_BIN: "/opt/kvrocks/bin/kvrocks",
        ETCD_BIN: "/opt/etcd",
      },
      "/repo",
    );
    expect(s).toMatchObject({
      dir: "/repo/tmp/x",
      apiPort: 8000,
      etcdPort: 8001,
      etcdPeerPort: 8002,
      nodePort: 8100,
      prefix: "/mine",
      token: "t1",
      kvrocksBin: "/opt/kvrocks/bin/kvrocks",
      etcdBin: "/opt/etcd",
    });
    expect(settingsFrom({ KVC_LOCAL_DIR: "/abs" }, "/repo").dir).toBe("/abs");
    expect(portsToCheck(s).map((p) => p.port)).toEqual([
      8001, 8002, 8000, 8100, 8101, 8102, 8103, 8104, 8105, 8106, 8107,
    ]);
  });

  it("names the variable when a port is bad or two settings collide", () => {
    expect(() => settingsFrom({ KVC_PORT: "http" }, "/r")).toThrow(/KVC_PORT="http"/);
    expect(() => settingsFrom({ KVC_LOCAL_ETCD_PORT: "70000" }, "/r")).toThrow(
      /KVC_LOCAL_ETCD_PORT/,
    );
    expect(() => settingsFrom({ KVC_PORT: "30003" }, "/r")).toThrow(
      /port 30003 is set for both KVC_PORT and a node/,
    );
    expect(() => settingsFrom({ KVC_LOCAL_NODE_PORT: "65530" }, "/r")).toThrow(/up to 65537/);
  });
});

describe("finding etcd", () => {
  const base = {
    etcdBin: undefined,
    which: () => undefined,
    exists: () => false,
    isRoot: false,
    aptGet: undefined,
  };

  it("prefers ETCD_BIN, then PATH, then the usual places", () => {
    expect(lookupEtcd({ ...base, etcdBin: "/x/etcd", exists: (p) => p === "/x/etcd" })).toEqual({
      kind: "found",
      bin: "/x/etcd",
    });
    expect(lookupEtcd({ ...base, which: () => "/p/etcd", exists: () => true })).toEqual({
      kind: "found",
      bin: "/p/etcd",
    });
    expect(lookupEtcd({ ...base, exists: (p) => p === "/usr/local/bin/etcd" })).toEqual({
      kind: "found",
      bin: "/usr/local/bin/etcd",
    });
  });

  it("installs Debian's etcd-server as root with apt-get, and otherwise says what to install", () => {
    expect(lookupEtcd({ ...base, isRoot: true, aptGet: "/usr/bin/apt-get" })).toEqual({
      kind: "install",
      command: ["/usr/bin/apt-get", "install", "-y", "etcd-server"],
    });
    const notRoot = lookupEtcd({ ...base, aptGet: "/usr/bin/apt-get" });
    expect(notRoot).toEqual({ kind: "missing", message: INSTALL_HELP });
    expect(INSTALL_HELP).toContain("sudo apt-get install etcd-server");
    expect(INSTALL_HELP).toContain("brew install etcd");
    const wrongBin = lookupEtcd({ ...base, etcdBin: "/nope/etcd", isRoot: true, aptGet: "/a" });
    expect(wrongBin.kind).toBe("missing");
    expect((wrongBin as { message: string }).message).toMatch(
      /^ETCD_BIN=\/nope\/etcd does not exist/,
    );
  });

  it("runs one member on loopback with its data under the state dir", () => {
    const args = etcdArgs(settingsFrom({ KVC_LOCAL_DIR: "/st" }, "/repo"));
    const flag = (name: string) => args[args.indexOf(name) + 1];
    expect(flag("--data-dir")).toBe("/st/etcd");
    expect(flag("--listen-client-urls")).toBe("http://127.0.0.1:32379");
    expect(flag("--listen-peer-urls")).toBe("http://127.0.0.1:32380");
    expect(flag("--initial-cluster")).toBe("local=http://127.0.0.1:32380");
    expect(args).not.toContain("--client-cert-auth");
  });

  it("with KVC_LOCAL_ETCD_TLS=1 serves TLS only, demands client certificates, and tells the children", () => {
    const s = settingsFrom({ KVC_LOCAL_DIR: "/st", KVC_LOCAL_ETCD_TLS: "1" }, "/repo");
    const args = etcdArgs(s);
    const flag = (name: string) => args[args.indexOf(name) + 1];
    expect(flag("--listen-client-urls")).toBe("https://127.0.0.1:32379");
    expect(flag("--cert-file")).toBe("/st/etcd-tls/server.crt");
    expect(flag("--trusted-ca-file")).toBe("/st/etcd-tls/ca.crt");
    expect(args).toContain("--client-cert-auth");
    expect(etcdEndpoint(s)).toBe("https://127.0.0.1:32379");
    expect(etcdClientEnv(s)).toEqual({
      KVC_ETCD_TLS_CA: "/st/etcd-tls/ca.crt",
      KVC_ETCD_TLS_CERT: "/st/etcd-tls/client.crt",
      KVC_ETCD_TLS_KEY: "/st/etcd-tls/client.key",
    });
    // Without it, TLS settings meant for another etcd are not passed on.
    expect(etcdClientEnv(settingsFrom({}, "/repo")).KVC_ETCD_TLS_CA).toBe("");
  });

  it("sends the token of a name:token entry", () => {
    expect(settingsFrom({ KVC_API_TOKENS: "admin:s3cret,other" }, "/repo").token).toBe("s3cret");
  });
});

describe("kvrocks.conf", () => {
  it("enables cluster mode on loopback with the node's port and directories", () => {
    const conf = kvrocksConfig({ port: 30004, dir: "/st/kvrocks/30004" });
    const lines = conf.split("\n").filter((l) => l && !l.startsWith("#"));
    expect(lines).toEqual([
      "bind 127.0.0.1",
      "port 30004",
      "cluster-enabled yes",
      "daemonize no",
      "dir /st/kvrocks/30004",
      "log-dir /st/kvrocks/30004",
      "pidfile /st/kvrocks/30004/kvrocks.pid",
      "workers 2",
    ]);
  });
});

describe("probe output in the terminal", () => {
  it("shows failovers, repairs and errors, not the routine summary or Node's warnings", () => {
    expect(
      probeLineToShow("probe: clusters 1, probed 1, skipped 0, failovers 0, repairs 0 in 4 ms"),
    ).toBeUndefined();
    expect(
      probeLineToShow("probe: clusters 1, probed 1, skipped 0, failovers 1, repairs 0 in 4 ms"),
    ).toMatch(/failovers 1/);
    expect(probeLineToShow("probe: demo/c1 shard 0: failed over a -> b in 84 ms")).toMatch(
      /failed over/,
    );
    expect(probeLineToShow("probe: round failed: etcd unreachable")).toMatch(/round failed/);
    expect(probeLineToShow("(node:123) MaxListenersExceededWarning: ...")).toBeUndefined();
    expect(probeLineToShow("")).toBeUndefined();
  });

  it("understands the logger's JSON lines: failovers, repairs, migrations and warnings", () => {
    const summary = {
      level: "info",
      clusters: 1,
      failovers: 1,
      msg: "probe: clusters 1, probed 1, skipped 0, failovers 1, repairs 0 in 5 ms",
    };
    expect(probeLineToShow(JSON.stringify(summary))).toBeUndefined();
    expect(probeLineToShow('{"level":30,"msg":"cluster probed"}')).toBeUndefined();
    expect(
      probeLineToShow(
        JSON.stringify({
          level: "info",
          time: "2026-01-01T00:00:00.000Z",
          namespace: "demo",
          cluster: "c1",
          shard: 0,
          old_master: "a".repeat(40),
          old_master_addr: "127.0.0.1:30001",
          new_master: "b".repeat(40),
          msg: "failover: promoted a replica",
        }),
      ),
    ).toBe(
      `failover: promoted a replica (namespace demo, cluster c1, shard 0, old_master_addr 127.0.0.1:30001, new_master ${"b".repeat(40)})`,
    );
    expect(probeLineToShow('{"level":"info","msg":"migration: done","range":"0-99"}')).toBe(
      "migration: done (range 0-99)",
    );
    expect(probeLineToShow('{"level":"warn","msg":"failover: not done","shard":1}')).toBe(
      "failover: not done (shard 1)",
    );
    expect(probeLineToShow('{"level":50,"msg":"probe: round failed: etcd down"}')).toBe(
      "probe: round failed: etcd down",
    );
  });
});
