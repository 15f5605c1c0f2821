// A throwaway etcd that speaks only TLS and demands a client certificate, with certificates
// made here by openssl: a CA, the server's (for 127.0.0.1), a client's, and a second CA that
// trusts nothing of the first (the "wrong CA").
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ETCD_BIN, freePort } from "./etcd.js";

export interface TlsFiles {
  dir: string;
  ca: string;
  otherCa: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

function openssl(dir: string, args: string[]) {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

export function makeCertificates(): TlsFiles {
  const dir = mkdtempSync(join(tmpdir(), "kvc-tls-"));
  const selfSigned = (name: string, cn: string) =>
    openssl(dir, [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.crt`,
      "-subj",
      `/CN=${cn}`,
    ]);
  const signed = (name: string, cn: string, ext: string) => {
    openssl(dir, [
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${cn}`,
    ]);
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "1",
      "-out",
      `${name}.crt`,
      "-extfile",
      `${name}.ext`,
    ]);
  };
  selfSigned("ca", "kvc-test-ca");
  selfSigned("other-ca", "kvc-wrong-ca");
  signed(
    "server",
    "127.0.0.1",
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
  );
  signed("client", "kvrocks-controller", "extendedKeyUsage=clientAuth\n");
  return {
    dir,
    ca: join(dir, "ca.crt"),
    otherCa: join(dir, "other-ca.crt"),
    serverCert: join(dir, "server.crt"),
    serverKey: join(dir, "server.key"),
    clientCert: join(dir, "client.crt"),
    clientKey: join(dir, "client.key"),
  };
}

export interface TlsEtcd {
  /** `https://127.0.0.1:port` */
  endpoint: string;
  stop(): Promise<void>;
}

/** etcd with `--cert-file --key-file --trusted-ca-file --client-cert-auth`. */
export async function startTlsEtcd(files: TlsFiles): Promise<TlsEtcd> {
  const clientPort = await freePort();
  const peerPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "kvc-etcd-tls-"));
  const endpoint = `https://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const child = spawn(
    ETCD_BIN,
    [
      "--name",
      "tls",
      "--data-dir",
      dataDir,
      "--listen-client-urls",
      endpoint,
      "--advertise-client-urls",
      endpoint,
      "--listen-peer-urls",
      peer,
      "--initial-advertise-peer-urls",
      peer,
      "--initial-cluster",
      `tls=${peer}`,
      "--cert-file",
      files.serverCert,
      "--key-file",
      files.serverKey,
      "--trusted-ca-file",
      files.ca,
      "--client-cert-auth",
      "--unsafe-no-fsync",
      "--log-level",
      "error",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  while (!(await healthy(endpoint, files))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`TLS etcd did not become healthy: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { endpoint, stop };
}

function healthy(endpoint: string, files: TlsFiles): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      `${endpoint}/health`,
      {
        ca: readFileSync(files.ca),
        cert: readFileSync(files.clientCert),
        key: readFileSync(files.clientKey),
        timeout: 1000,
      },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve(body.includes('"health":"true"')));
      },
    );
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}
