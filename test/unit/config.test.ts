import { describe, expect, it } from "vitest";
import { defaultConfig, loadConfig } from "../../lib/config/index.js";

describe("configuration", () => {
  it("has the documented defaults", () => {
    const config = loadConfig(undefined, {});
    expect(config).toEqual(defaultConfig);
    expect(config.etcd.endpoints).toEqual(["127.0.0.1:2379"]);
    expect(config.http.port).toBe(9379);
  });

  it("reads the seed's format", () => {
    const config = loadConfig(
      "controller: 0.0.0.0:9000\netcdhosts: [10.0.0.1:2379, 10.0.0.2:2379]\n",
      {},
    );
    expect(config.http).toMatchObject({ host: "0.0.0.0", port: 9000 });
    expect(config.etcd.endpoints).toEqual(["10.0.0.1:2379", "10.0.0.2:2379"]);
  });

  it("reads upstream's format, failover settings included", () => {
    const config = loadConfig(
      [
        "addr: 127.0.0.1:9380",
        "etcd:",
        "  addrs: [127.0.0.1:2379]",
        "  username: root",
        "  password: pw",
        "controller:",
        "  failover:",
        "    ping_interval_seconds: 3",
        "    max_ping_count: 5",
      ].join("\n"),
      {},
    );
    expect(config.http.port).toBe(9380);
    expect(config.etcd).toMatchObject({ username: "root", password: "pw" });
    expect(config.probe).toMatchObject({ intervalMs: 3000, failures: 5 });
  });

  it("judges a master down after 900 ms by default, and takes KVC_PROBE_DOWN_AFTER_MS", () => {
    expect(loadConfig(undefined, {}).probe).toMatchObject({
      downAfterMs: 900,
      confirmEveryMs: 150,
    });
    const config = loadConfig(undefined, { KVC_PROBE_DOWN_AFTER_MS: "2500" });
    expect(config.probe.downAfterMs).toBe(2500);
  });

  it("needs one observer by default, and takes KVC_PROBE_QUORUM from 1 to 16", () => {
    expect(loadConfig(undefined, {}).probe.quorum).toBe(1);
    expect(loadConfig(undefined, { KVC_PROBE_QUORUM: "2" }).probe.quorum).toBe(2);
    expect(() => loadConfig(undefined, { KVC_PROBE_QUORUM: "0" })).toThrow(/probe.quorum/);
  });

  it("lets environment variables override the file", () => {
    const config = loadConfig("addr: 127.0.0.1:9380\n", {
      KVC_PORT: "9999",
      KVC_ETCD_ENDPOINTS: "a:1, b:2",
      KVC_API_TOKENS: "t1,t2",
      KVC_PROBE_FAILURES: "7",
    });
    expect(config.http.port).toBe(9999);
    expect(config.etcd.endpoints).toEqual(["a:1", "b:2"]);
    expect(config.auth.tokens).toEqual(["t1", "t2"]);
    expect(config.probe.failures).toBe(7);
  });

  it.each([
    [{ KVC_PORT: "abc" }, /KVC_PORT/],
    [{ KVC_PORT: "70000" }, /http.port/],
    [{ KVC_ETCD_ENDPOINTS: "nohost" }, /etcd.endpoints/],
    [{ KVC_SAFE_MODE_RATIO: "2" }, /probe.safeModeRatio/],
    [{ KVC_PROBE_DOWN_AFTER_MS: "-1" }, /probe.downAfterMs/],
    [{ KVC_PROBE_CONFIRM_EVERY_MS: "5" }, /probe.confirmEveryMs/],
    [{ KVC_LOG_LEVEL: "loud" }, /logLevel/],
    [{ KVC_ALLOWED_ORIGINS: "https://console.example.com/ui" }, /http.allowedOrigins/],
    [{ KVC_ALLOWED_ORIGINS: "console.example.com" }, /http.allowedOrigins/],
  ])("refuses %j naming the key", (env, key) => {
    expect(() => loadConfig(undefined, env)).toThrow(key);
  });

  it("reads KVC_ALLOWED_ORIGINS (none by default) as the browser writes an origin", () => {
    expect(loadConfig(undefined, {}).http.allowedOrigins).toEqual([]);
    const config = loadConfig("allowed_origins: [http://file.example]\n", {
      KVC_ALLOWED_ORIGINS: "https://console.example.com:443, http://LOCALHOST:5173",
    });
    expect(config.http.allowedOrigins).toEqual([
      "https://console.example.com",
      "http://localhost:5173",
    ]);
    expect(loadConfig("allowed_origins: [http://file.example]\n", {}).http.allowedOrigins).toEqual([
      "http://file.example",
    ]);
  });

  it("refuses a file that is not YAML or has a wrong type, naming the key", () => {
    expect(() => loadConfig("addr: [unclosed", {})).toThrow(/YAML/);
    expect(() => loadConfig("etcdhosts: 5\n", {})).toThrow(/etcdhosts/);
  });
});
