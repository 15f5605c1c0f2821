// Finding (or installing) etcd and running one member for the local stack.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { etcdTlsFiles, HOST, type LocalSettings, paths } from "./settings.js";

export type EtcdLookup =
  | { kind: "found"; bin: string }
  | { kind: "install"; command: string[] }
  | { kind: "missing"; message: string };

export const INSTALL_HELP = [
  "etcd (3.4 or newer) is needed and was not found. Install it, then run `npm run local` again:",
  "  Debian/Ubuntu:  sudo apt-get install etcd-server",
  "  Fedora:         sudo dnf install etcd",
  "  macOS:          brew install etcd",
  "  other:          https://github.com/etcd-io/etcd/releases (then ETCD_BIN=/path/to/etcd)",
].join("\n");

export interface LookupContext {
  etcdBin: string | undefined;
  which: (name: string) => string | undefined;
  exists: (path: string) => boolean;
  isRoot: boolean;
  aptGet: string | undefined;
}

/** ETCD_BIN, else `etcd` on PATH, else the usual places; else install (root + apt-get) or say how. */
export function lookupEtcd(ctx: LookupContext): EtcdLookup {
  if (ctx.etcdBin !== undefined) {
    return ctx.exists(ctx.etcdBin)
      ? { kind: "found", bin: ctx.etcdBin }
      : { kind: "missing", message: `ETCD_BIN=${ctx.etcdBin} does not exist.\n${INSTALL_HELP}` };
  }
  const onPath = ctx.which("etcd");
  if (onPath) return { kind: "found", bin: onPath };
  for (const bin of ["/usr/bin/etcd", "/usr/local/bin/etcd", "/opt/homebrew/bin/etcd"]) {
    if (ctx.exists(bin)) return { kind: "found", bin };
  }
  if (ctx.isRoot && ctx.aptGet) {
    return { kind: "install", command: [ctx.aptGet, "install", "-y", "etcd-server"] };
  }
  return { kind: "missing", message: INSTALL_HELP };
}

export function defaultLookupContext(
  etcdBin: string | undefined,
  which: (name: string) => string | undefined,
): LookupContext {
  return {
    etcdBin,
    which,
    exists: existsSync,
    isRoot: process.getuid?.() === 0,
    aptGet: which("apt-get"),
  };
}

/**
 * The TLS mode's CA, server certificate (for 127.0.0.1) and client certificate, made once with
 * openssl and kept in the stack's dir.
 */
export function ensureEtcdCertificates(s: Pick<LocalSettings, "dir">): void {
  const f = etcdTlsFiles(s);
  if (existsSync(f.clientKey)) return;
  mkdirSync(f.dir, { recursive: true });
  const openssl = (args: string[]) =>
    execFileSync("openssl", args, { cwd: f.dir, stdio: ["ignore", "ignore", "pipe"] });
  const key = ["-newkey", "rsa:2048", "-nodes", "-days", "365"];
  openssl(["req", "-x509", ...key, "-keyout", f.caKey, "-out", f.ca, "-subj", "/CN=kvc-local-ca"]);
  const sign = (name: string, cn: string, ext: string, cert: string, certKey: string) => {
    const csr = join(f.dir, `${name}.csr`);
    const extFile = join(f.dir, `${name}.ext`);
    openssl(["req", ...key, "-keyout", certKey, "-out", csr, "-subj", `/CN=${cn}`]);
    writeFileSync(extFile, ext);
    // biome-ignore format: flag and value pairs
    openssl(["x509", "-req", "-in", csr, "-CA", f.ca, "-CAkey", f.caKey, "-CAcreateserial",
      "-days", "365", "-out", cert, "-extfile", extFile]);
  };
  sign(
    "server",
    HOST,
    `subjectAltName=IP:${HOST}\nextendedKeyUsage=serverAuth,clientAuth\n`,
    f.serverCert,
    f.serverKey,
  );
  sign("client", "kvrocks-controller", "extendedKeyUsage=clientAuth\n", f.clientCert, f.clientKey);
}

/** What the controller and the probe need to reach the TLS mode's etcd. */
export function etcdClientEnv(s: Pick<LocalSettings, "dir" | "etcdTls">): Record<string, string> {
  const f = etcdTlsFiles(s);
  return s.etcdTls
    ? { KVC_ETCD_TLS_CA: f.ca, KVC_ETCD_TLS_CERT: f.clientCert, KVC_ETCD_TLS_KEY: f.clientKey }
    : { KVC_ETCD_TLS_CA: "", KVC_ETCD_TLS_CERT: "", KVC_ETCD_TLS_KEY: "" };
}

export function etcdArgs(s: LocalSettings): string[] {
  const f = etcdTlsFiles(s);
  const tls = s.etcdTls
    ? [
        "--cert-file",
        f.serverCert,
        "--key-file",
        f.serverKey,
        "--trusted-ca-file",
        f.ca,
        "--client-cert-auth",
      ]
    : [];
  const client = `${s.etcdTls ? "https" : "http"}://${HOST}:${s.etcdPort}`;
  const peer = `http://${HOST}:${s.etcdPeerPort}`;
  return [
    "--name",
    "local",
    "--data-dir",
    paths(s).etcdData,
    "--listen-client-urls",
    client,
    "--advertise-client-urls",
    client,
    "--listen-peer-urls",
    peer,
    "--initial-advertise-peer-urls",
    peer,
    "--initial-cluster",
    `local=${peer}`,
    "--initial-cluster-token",
    "kvc-local",
    "--log-level",
    "warn",
    ...tls,
  ];
}

export async function etcdHealthy(
  s: Pick<LocalSettings, "etcdPort" | "etcdTls" | "dir">,
): Promise<boolean> {
  if (s.etcdTls) return tlsHealthy(s);
  try {
    const res = await fetch(`http://${HOST}:${s.etcdPort}/health`, {
      signal: AbortSignal.timeout(1000),
    });
    const body = (await res.json()) as { health?: string };
    return body.health === "true";
  } catch {
    return false;
  }
}

/**
 * Asks as etcd's own identity (its certificate allows client use too), so that the stack can
 * tell etcd being up from the controller's client certificate being wrong.
 */
function tlsHealthy(s: Pick<LocalSettings, "etcdPort" | "dir">): Promise<boolean> {
  const f = etcdTlsFiles(s);
  return new Promise((resolve) => {
    let req: ReturnType<typeof request>;
    try {
      req = request(
        `https://${HOST}:${s.etcdPort}/health`,
        {
          ca: readFileSync(f.ca),
          cert: readFileSync(f.serverCert),
          key: readFileSync(f.serverKey),
          timeout: 1000,
        },
        (res) => {
          let body = "";
          res.on("data", (d: Buffer) => (body += d.toString()));
          res.on("end", () => resolve(/"health":\s*"true"/.test(body)));
        },
      );
    } catch {
      resolve(false);
      return;
    }
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}
