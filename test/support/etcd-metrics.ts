// etcd's own count of the writes it agreed on: every put, delete, txn and lease grant or
// revoke is one raft proposal; reads and lease keep-alives are none.

/** `etcd_server_proposals_committed_total` from an etcd member's /metrics. */
export async function proposalsCommitted(clientUrl: string): Promise<number> {
  const res = await fetch(`${clientUrl.replace(/\/+$/, "")}/metrics`);
  if (!res.ok) throw new Error(`etcd /metrics answered ${res.status}`);
  const text = await res.text();
  const line = text.split("\n").find((l) => l.startsWith("etcd_server_proposals_committed_total"));
  if (!line) throw new Error("etcd /metrics has no etcd_server_proposals_committed_total");
  return Number(line.split(/\s+/)[1]);
}

/**
 * KV requests etcd served (Range, Txn, Put, DeleteRange), reads included: how many round trips
 * a probe round costs etcd, whatever the machine's load.
 */
export async function kvRequests(clientUrl: string): Promise<number> {
  const res = await fetch(`${clientUrl.replace(/\/+$/, "")}/metrics`);
  if (!res.ok) throw new Error(`etcd /metrics answered ${res.status}`);
  let total = 0;
  for (const line of (await res.text()).split("\n")) {
    if (line.startsWith("grpc_server_started_total{") && line.includes('"etcdserverpb.KV"'))
      total += Number(line.split(/\s+/).at(-1));
  }
  return total;
}
