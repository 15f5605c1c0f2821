// What every benchmark needs: a private real etcd, a runtime over it, simulator nodes.
import { cpus } from "node:os";
import { loadConfig } from "../../lib/config/index.js";
import { createCluster } from "../../lib/ops/index.js";
import { openRuntime, type Runtime } from "../../lib/runtime.js";
import { EtcdCluster } from "../support/etcd.js";
import { type SimNode, startSimNode } from "../support/kvrocks-sim/server.js";

export interface BenchEnv {
  etcd: EtcdCluster;
  runtime: Runtime;
  nodes: SimNode[];
  close(): Promise<void>;
}

export async function benchEnv(env: Record<string, string> = {}): Promise<BenchEnv> {
  const etcd = await EtcdCluster.start(1);
  const config = loadConfig(undefined, {
    KVC_ETCD_ENDPOINTS: etcd.endpoints.join(","),
    KVC_LOG_LEVEL: "silent",
    ...env,
  });
  const runtime = openRuntime(config);
  const nodes: SimNode[] = [];
  return {
    etcd,
    runtime,
    nodes,
    async close() {
      await Promise.all(nodes.map((n) => n.close()));
      runtime.close();
      await etcd.stop();
    },
  };
}

export async function simCluster(
  b: BenchEnv,
  ns: string,
  name: string,
  count: number,
  replicas: number,
) {
  const nodes: SimNode[] = [];
  for (let i = 0; i < count; i++) nodes.push(await startSimNode());
  b.nodes.push(...nodes);
  if (!(await b.runtime.store.namespaceExists(ns))) await b.runtime.store.createNamespace(ns);
  await createCluster(b.runtime.ops, ns, {
    name,
    nodes: nodes.map((n) => n.addr),
    replicas,
    password: "",
  });
  return nodes;
}

export function stats(samples: number[]): {
  median: number;
  p99: number;
  min: number;
  max: number;
} {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return {
    median: at(0.5),
    p99: at(0.99),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

export function machine(): string {
  return `${cpus().length} cores, Node ${process.version}`;
}

export function row(name: string, value: string, target: string, met: boolean | null) {
  const verdict = met === null ? "" : met ? "met" : "MISSED";
  console.log(`| ${name} | ${value} | ${target} | ${verdict} |`);
}

export function header(title: string) {
  console.log(`\n### ${title} (${machine()})\n`);
  console.log("| measure | value | target | |");
  console.log("|---|---|---|---|");
}
