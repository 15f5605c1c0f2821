// Configuration of the security features: upstream's etcd.tls block and its variables, token
// lists and the tokens file format, secrets read from *_FILE variables.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readConfig, secretsFromFiles } from "../../lib/config/file.js";
import { loadConfig } from "../../lib/config/index.js";
import { readEtcdTls, tlsFailureOf } from "../../lib/store/index.js";
import {
  identify,
  mayManageNamespaces,
  mayWrite,
  parseNamespaceTokenEntry,
  parseTokenEntry,
  parseTokensFile,
  tokenDigest,
  visibleNamespaces,
} from "../../lib/tokens.js";

const dir = mkdtempSync(join(tmpdir(), "kvc-seccfg-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe("etcd TLS configuration", () => {
  it("reads upstream's etcd.tls block, empty keys included", () => {
    const config = loadConfig(
      [
        "etcd:",
        "  addrs: [https://etcd-0:2379]",
        "  username:",
        "  password:",
        "  tls:",
        "    enable: true",
        "    cert_file: /tls/client.crt",
        "    key_file: /tls/client.key",
        "    ca_file: /tls/ca.crt",
      ].join("\n"),
      {},
    );
    expect(config.etcd.endpoints).toEqual(["https://etcd-0:2379"]);
    expect(config.etcd.tls).toEqual({
      caFile: "/tls/ca.crt",
      certFile: "/tls/client.crt",
      keyFile: "/tls/client.key",
    });
  });

  it("ignores the block when enable is false, as upstream's default file has it", () => {
    const config = loadConfig(
      "etcd:\n  tls:\n    enable: false\n    cert_file:\n    key_file:\n    ca_file:\n",
      {},
    );
    expect(config.etcd.tls).toBeUndefined();
  });

  it("takes KVC_ETCD_TLS_* over the file, a CA alone for server-only TLS", () => {
    expect(loadConfig(undefined, { KVC_ETCD_TLS_CA: "/ca.pem" }).etcd.tls).toEqual({
      caFile: "/ca.pem",
    });
    const config = loadConfig(
      "etcd:\n  tls: {enable: true, ca_file: /a, cert_file: /c, key_file: /k}\n",
      {
        KVC_ETCD_TLS_CA: "/b",
      },
    );
    expect(config.etcd.tls).toEqual({ caFile: "/b", certFile: "/c", keyFile: "/k" });
  });

  it("refuses a certificate without its key", () => {
    expect(() => loadConfig(undefined, { KVC_ETCD_TLS_CERT: "/c" })).toThrow(/etcd.tls/);
  });

  it("names an unreadable or non-PEM file", () => {
    expect(() => readEtcdTls({ caFile: join(dir, "none.pem") })).toThrow(
      /cannot read the etcd TLS CA file .*none\.pem/,
    );
    expect(() => readEtcdTls({ caFile: file("junk.pem", "not a certificate") })).toThrow(
      /junk\.pem is not PEM/,
    );
  });

  it("tells TLS failures from etcd being down", () => {
    expect(
      tlsFailureOf(
        new Error(
          "14 UNAVAILABLE: No connection established. Last error: Error: unable to verify the first certificate (2026-01-01T00:00:00.000Z). Resolution note: ",
        ),
      ),
    ).toBe("etcd TLS handshake failed: unable to verify the first certificate");
    expect(
      tlsFailureOf(
        new Error("14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED"),
      ),
    ).toBeUndefined();
  });
});

describe("secrets from files", () => {
  it("reads KVC_ETCD_PASSWORD_FILE and KVC_API_TOKENS_FILE, one token a line", () => {
    const env = secretsFromFiles({
      KVC_ETCD_PASSWORD_FILE: file("pw", "s3cret pass\n"),
      KVC_API_TOKENS_FILE: file("tokens", "ci:tok-1\nops:tok-2\n\n"),
    });
    const config = loadConfig(undefined, env);
    expect(config.etcd.password).toBe("s3cret pass");
    expect(config.auth.tokens).toEqual(["ci:tok-1", "ops:tok-2"]);
  });

  it("refuses both forms at once and names a missing file", () => {
    expect(() =>
      secretsFromFiles({ KVC_ETCD_PASSWORD: "x", KVC_ETCD_PASSWORD_FILE: file("pw2", "y") }),
    ).toThrow(/KVC_ETCD_PASSWORD or KVC_ETCD_PASSWORD_FILE, not both/);
    expect(() => readConfig([], { KVC_API_TOKENS_FILE: join(dir, "absent") })).toThrow(
      /cannot read KVC_API_TOKENS_FILE .*absent/,
    );
  });
});

describe("tokens", () => {
  it("names `name:token` entries and bare ones by a short hash", () => {
    const named = parseTokenEntry("ci:abc:def", "admin");
    expect(named.principal).toEqual({ name: "ci", role: "admin", namespaces: null });
    expect(named.digest).toEqual(tokenDigest("abc:def"));
    const bare = parseTokenEntry("just-a-token", "read");
    expect(bare.principal.name).toMatch(/^token-[0-9a-f]{8}$/);
    expect(bare.digest).toEqual(tokenDigest("just-a-token"));
  });

  it("scopes namespace tokens and refuses a malformed entry without echoing it", () => {
    const entry = parseNamespaceTokenEntry("team=t0ken");
    expect(entry.principal).toMatchObject({ role: "write", namespaces: ["team"] });
    expect(() => parseNamespaceTokenEntry("=s3cret-value")).toThrow(/namespace=token/);
    try {
      parseNamespaceTokenEntry("bad name=s3cret-value");
    } catch (err) {
      expect((err as Error).message).not.toContain("s3cret-value");
    }
  });

  it("identifies the principal of a token, and nobody for a wrong one", () => {
    const entries = [parseTokenEntry("a:one", "admin"), parseNamespaceTokenEntry("ns=two")];
    expect(identify(entries, "one")?.name).toBe("a");
    expect(identify(entries, "two")?.namespaces).toEqual(["ns"]);
    expect(identify(entries, "three")).toBeUndefined();
    expect(identify(entries, "")).toBeUndefined();
  });

  it("decides what a principal may do", () => {
    const scoped = parseNamespaceTokenEntry("a=x").principal;
    const writer = { name: "w", role: "write" as const, namespaces: null };
    expect(mayWrite(scoped, "a")).toBe(true);
    expect(mayWrite(scoped, "b")).toBe(false);
    expect(mayManageNamespaces(scoped)).toBe(false);
    expect(mayManageNamespaces(writer)).toBe(false);
    expect(mayWrite(writer, "b")).toBe(true);
    expect(visibleNamespaces(scoped, ["a", "b"])).toEqual(["a"]);
  });

  it("parses a tokens file; errors name the entry and field, never a token", () => {
    const entries = parseTokensFile(
      [
        "- name: ci",
        "  token: ci-token-1234",
        "  role: write",
        "  namespaces: [a, b]",
        "- name: hashed",
        `  sha256: ${tokenDigest("h-token-5678").toString("hex")}`,
        "  role: read",
      ].join("\n"),
      "t.yaml",
    );
    expect(identify(entries, "ci-token-1234")).toEqual({
      name: "ci",
      role: "write",
      namespaces: ["a", "b"],
    });
    expect(identify(entries, "h-token-5678")?.role).toBe("read");
    for (const [text, message] of [
      ["- name: x\n  token: leaked-token-1\n  role: root\n", /entry 0.role/],
      ["- name: x\n  token: leaked-token-1\n  sha256: aa\n  role: read\n", /entry 0.sha256/],
      [
        "- name: x\n  token: leaked-token-1\n  role: read\n- name: x\n  token: leaked-token-2\n  role: read\n",
        /"x" appears twice/,
      ],
      ["- name: x\n  token: leaked-token-1\n  role: [read\n", /not valid YAML \(line \d+\)/],
    ] as const) {
      let error = "";
      try {
        parseTokensFile(text, "t.yaml");
      } catch (err) {
        error = (err as Error).message;
      }
      expect(error).toMatch(message);
      expect(error).not.toContain("leaked-token");
    }
  });
});
