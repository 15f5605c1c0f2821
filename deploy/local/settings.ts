// What `npm run local` runs where: fixed, documented defaults, each overridable from the
// environment. Pure: no I/O, so the tests can check every rule.
import { isAbsolute, join, resolve } from "node:path";
import { splitTokenEntry } from "../../lib/tokens.js";

export const HOST = "127.0.0.1";
export const NAMESPACE = "demo";
export const CLUSTER = "c1";
export const SHARDS = 3;
/** Master + one replica. */
export const NODES_PER_SHARD = 2;
/** Started but left out of the cluster, for `kvctl scale out`. */
export const SPARE_NODES = 2;

export const DEFAULTS = {
  KVC_LOCAL_ETCD_PORT: 32379,
  KVC_LOCAL_ETCD_PEER_PORT: 32380,
  KVC_PORT: 9379,
  KVC_LOCAL_NODE_PORT: 30001,
} as const;

export interface LocalSettings {
  /** The checkout: where functions/, cron/ and cli/ are. */
  root: string;
  /** Everything the stack writes: etcd data, node dirs, logs, stack.json. */
  dir: string;
  etcdPort: number;
  etcdPeerPort: number;
  apiPort: number;
  /** First node port; the nodes take consecutive ports from here. */
  nodePort: number;
  prefix: string;
  /** Token for our own API calls when the user configured KVC_API_TOKENS. */
  token: string | undefined;
  kvrocksBin: string | undefined;
  etcdBin: string | undefined;
  /** KVC_LOCAL_ETCD_TLS=1: etcd serves TLS only and demands a client certificate. */
  etcdTls: boolean;
}

function port(env: Record<string, string | undefined>, key: keyof typeof DEFAULTS): number {
  const raw = env[key];
  if (raw === undefined || raw === "") return DEFAULTS[key];
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new Error(`${key}="${raw}" is not a TCP port (1-65535)`);
  }
  return value;
}

export function settingsFrom(env: Record<string, string | undefined>, root: string): LocalSettings {
  const dirEnv = env.KVC_LOCAL_DIR;
  const dir = dirEnv ? (isAbsolute(dirEnv) ? dirEnv : resolve(root, dirEnv)) : join(root, ".local");
  const s: LocalSettings = {
    root,
    dir,
    etcdPort: port(env, "KVC_LOCAL_ETCD_PORT"),
    etcdPeerPort: port(env, "KVC_LOCAL_ETCD_PEER_PORT"),
    apiPort: port(env, "KVC_PORT"),
    nodePort: port(env, "KVC_LOCAL_NODE_PORT"),
    prefix: env.KVC_ETCD_PREFIX || "/kvrocks",
    // Entries may be `name:token`; the stack sends the token.
    token: env.KVC_API_TOKENS?.split(",")
      .map((t) => splitTokenEntry(t.trim()).token)
      .find((t) => t !== ""),
    kvrocksBin: env.KVROCKS_BIN || undefined,
    etcdBin: env.ETCD_BIN || undefined,
    etcdTls: ["1", "true", "yes"].includes((env.KVC_LOCAL_ETCD_TLS ?? "").toLowerCase()),
  };
  const last = s.nodePort + nodeCount() - 1;
  if (last > 65535)
    throw new Error(`KVC_LOCAL_NODE_PORT=${s.nodePort}: the nodes need ports up to ${last}`);
  const used = new Map<number, string>();
  const claim = (p: number, what: string) => {
    const other = used.get(p);
    if (other) throw new Error(`port ${p} is set for both ${other} and ${what}`);
    used.set(p, what);
  };
  claim(s.etcdPort, "KVC_LOCAL_ETCD_PORT");
  claim(s.etcdPeerPort, "KVC_LOCAL_ETCD_PEER_PORT");
  claim(s.apiPort, "KVC_PORT");
  for (const p of nodePorts(s)) claim(p, `a node (KVC_LOCAL_NODE_PORT=${s.nodePort})`);
  return s;
}

export function nodeCount(): number {
  return SHARDS * NODES_PER_SHARD + SPARE_NODES;
}

export function nodePorts(s: Pick<LocalSettings, "nodePort">): number[] {
  return Array.from({ length: nodeCount() }, (_, i) => s.nodePort + i);
}

export function nodeAddrs(s: Pick<LocalSettings, "nodePort">): string[] {
  return nodePorts(s).map((p) => `${HOST}:${p}`);
}

/** The nodes of the demo cluster, and the spare ones for a scale-out. */
export function clusterAddrs(s: Pick<LocalSettings, "nodePort">): {
  members: string[];
  spare: string[];
} {
  const all = nodeAddrs(s);
  const n = SHARDS * NODES_PER_SHARD;
  return { members: all.slice(0, n), spare: all.slice(n) };
}

export function apiUrl(s: Pick<LocalSettings, "apiPort">): string {
  return `http://${HOST}:${s.apiPort}`;
}

export function etcdEndpoint(s: Pick<LocalSettings, "etcdPort" | "etcdTls">): string {
  return s.etcdTls ? `https://${HOST}:${s.etcdPort}` : `${HOST}:${s.etcdPort}`;
}

/** Certificates of the TLS mode, made by the stack with openssl (see deploy/local/etcd.ts). */
export const etcdTlsFiles = (s: Pick<LocalSettings, "dir">) => {
  const dir = join(s.dir, "etcd-tls");
  return {
    dir,
    ca: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    serverCert: join(dir, "server.crt"),
    serverKey: join(dir, "server.key"),
    clientCert: join(dir, "client.crt"),
    clientKey: join(dir, "client.key"),
  };
};

export const paths = (s: Pick<LocalSettings, "dir">) => ({
  state: join(s.dir, "stack.json"),
  etcdData: join(s.dir, "etcd"),
  logs: join(s.dir, "logs"),
  kvrocks: join(s.dir, "kvrocks"),
});

/** Every port the stack listens on, with the variable that moves it. */
export function portsToCheck(s: LocalSettings): { port: number; variable: string; what: string }[] {
  return [
    { port: s.etcdPort, variable: "KVC_LOCAL_ETCD_PORT", what: "etcd (clients)" },
    { port: s.etcdPeerPort, variable: "KVC_LOCAL_ETCD_PEER_PORT", what: "etcd (peers)" },
    { port: s.apiPort, variable: "KVC_PORT", what: "the controller's API" },
    ...nodePorts(s).map((p) => ({
      port: p,
      variable: "KVC_LOCAL_NODE_PORT",
      what: `Kvrocks node ${HOST}:${p}`,
    })),
  ];
}
