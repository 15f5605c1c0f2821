// A node's page: where it sits, what the probe last saw of it, its failovers; promote, remove.
import { api, clusterApi, clusterUi, path, soft } from "../api.js";
import { confirmOrCancel, rowButton } from "../dialogs.js";
import { $, ago, badge, type Child, h, mono, muted, setText, update, when } from "../dom.js";
import { renderFailovers } from "../failovers.js";
import { healthById, nodeState } from "../health.js";
import { ctx } from "../page.js";
import { type ClusterHealth, type ClusterJson, type FailoverRecord, isFailed } from "../types.js";

export async function loadNode(): Promise<void> {
  const base = clusterApi(ctx.ns, ctx.cluster);
  const [c, health, failovers] = await Promise.all([
    api<{ cluster: ClusterJson }>("GET", base),
    soft(api<ClusterHealth>("GET", `${base}/health`)),
    soft(api<{ failovers: FailoverRecord[] }>("GET", `${base}/failovers`)),
  ]);
  const cluster = c.cluster;
  const shardIndex = cluster.shards.findIndex((s) => s.nodes.some((n) => n.id === ctx.node));
  const node =
    shardIndex < 0 ? null : cluster.shards[shardIndex]?.nodes.find((n) => n.id === ctx.node);
  const x = healthById(health).get(ctx.node);
  const healthFailed = isFailed(health) ? health.failed : null;
  const view = [cluster.version, shardIndex, node, x ?? null, healthFailed];
  update($("#node"), view.concat([x ? ago(x.last_ok) : null]), () => {
    if (!node) return muted(`No node with this id in cluster ${ctx.cluster} (removed?).`);
    const row = (k: string, v: Child) => [h("dt", null, k), h("dd", null, v)];
    return h(
      "dl",
      { class: "kv" },
      row("Address", mono(node.addr)),
      row("ID", mono(node.id)),
      row(
        "Shard",
        h(
          "a",
          { href: `${clusterUi(ctx.ns, ctx.cluster)}#shard-${shardIndex}` },
          `shard ${shardIndex}`,
        ),
      ),
      row("Role (stored)", node.role),
      row("State", nodeState(x)),
      row("Role seen by the probe", x?.role_seen ?? "—"),
      row("Consecutive failures", x ? String(x.failures) : "—"),
      row("Last OK", x?.last_ok ? `${when(x.last_ok)} (${ago(x.last_ok)})` : "never"),
      row("Last error", x?.last_error ?? "—"),
      row(
        "Reported version",
        x && x.reported_version !== null
          ? [
              `${x.reported_version} (cluster ${cluster.version})`,
              x.behind ? [" ", badge("behind", "warn")] : null,
            ]
          : "—",
      ),
      row("Added", node.created_at ? when(node.created_at * 1000) : "—"),
      row(
        "Maintenance",
        node.drained_at
          ? [badge("drained", "warn"), ` since ${when(node.drained_at)}: never failed over`]
          : "in service",
      ),
      healthFailed ? row("Health", h("span", { class: "error" }, healthFailed)) : null,
    );
  });
  if (node) {
    const title = `Node ${node.addr}`;
    if (document.title.indexOf(title) !== 0) {
      document.title = `${title} · kvrocks-controller`;
      setText($("h1"), title);
    }
  }
  const shardApi = base + path("shards", shardIndex);
  update($("#node-actions"), [shardIndex, node?.role, node?.drained_at], () => {
    if (!node) return muted("Nothing to do.");
    // Drain switches a master over first; undrain waits a few seconds for it to catch up.
    const maintenance = node.drained_at
      ? rowButton("Undrain", "node-undrain", "node-actions", "undrain", async () => {
          // A few seconds, then the reason it waits (not caught up) shows; click again later.
          await api("POST", `${base}/nodes/${node.id}/undrain`, { wait_ms: 4000 });
        })
      : rowButton("Drain for maintenance", "node-drain", "node-actions", "drain", async () => {
          await confirmOrCancel(
            `Drain ${node.addr}?`,
            node.role === "master"
              ? `Shard ${shardIndex} is switched over to a replica first (no write lost); the probe then leaves the node alone until it is undrained.`
              : "The probe leaves the node alone (no failover, no alert) until it is undrained.",
            "Drain",
          );
          await api("POST", `${base}/nodes/${node.id}/drain`, {});
        });
    if (node.role === "master") {
      return h(
        "div",
        { class: "buttons", style: { justifyContent: "flex-start" } },
        maintenance,
        muted(
          `This node is the master of shard ${shardIndex}. Fail the shard over to make it a replica before removing it.`,
        ),
      );
    }
    return h(
      "div",
      { class: "buttons", style: { justifyContent: "flex-start" } },
      maintenance,
      rowButton(
        `Fail shard ${shardIndex} over to this node`,
        "node-promote",
        "node-actions",
        "fail over",
        async () => {
          await confirmOrCancel(
            `Make ${node.addr} the master of shard ${shardIndex}?`,
            "The current master becomes a replica.",
            "Fail over",
          );
          await api("POST", `${shardApi}/failover`, { preferred_node_id: node.id });
        },
        "primary",
      ),
      rowButton(
        "Remove from the cluster",
        "node-remove",
        "node-actions",
        "remove",
        async () => {
          await confirmOrCancel(
            `Remove ${node.addr} from shard ${shardIndex}?`,
            "The node leaves the topology; the process keeps running.",
            "Remove node",
          );
          await api("DELETE", shardApi + path("nodes", node.id));
          location.assign(clusterUi(ctx.ns, ctx.cluster));
        },
        "danger",
      ),
    );
  });
  renderFailovers(
    $("#node-failovers"),
    failovers,
    (f) => f.old_master_id === ctx.node || f.new_master_id === ctx.node,
  );
}
