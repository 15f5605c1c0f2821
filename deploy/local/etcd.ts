// Finding (or installing) etcd and running one member for the local stack.
import { existsSync } from "node:fs";
import { HOST, type LocalSettings, paths } from "./settings.js";

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

export function etcdArgs(s: LocalSettings): string[] {
  const client = `http://${HOST}:${s.etcdPort}`;
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
  ];
}

export async function etcdHealthy(s: Pick<LocalSettings, "etcdPort">): Promise<boolean> {
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
