// A namespace's page: its clusters with their health; create, import and delete clusters.
import { api, clusterApi, clusterUi, nsApi, soft } from "../api.js";
import { confirmOrCancel, field, onSubmit, rowButton } from "../dialogs.js";
import { $, h, muted, splitList, table, update } from "../dom.js";
import { healthBadges } from "../health.js";
import { ctx } from "../page.js";
import { type ClusterHealth, type ClusterJson, isFailed } from "../types.js";

export async function loadNamespace(): Promise<void> {
  const { clusters } = await api<{ clusters: string[] }>("GET", `${nsApi(ctx.ns)}/clusters`);
  const rows = await Promise.all(
    clusters.map(async (name) => {
      const base = clusterApi(ctx.ns, name);
      const [c, health] = await Promise.all([
        soft(api<{ cluster: ClusterJson }>("GET", base)),
        soft(api<ClusterHealth>("GET", `${base}/health`)),
      ]);
      const cluster = isFailed(c) ? null : c.cluster;
      return {
        name,
        error: isFailed(c) ? c.failed : null,
        shards: cluster ? cluster.shards.length : null,
        nodes: cluster ? cluster.shards.reduce((n, s) => n + s.nodes.length, 0) : null,
        version: cluster ? cluster.version : null,
        health: healthBadges(health, cluster).map((b) => [b.className, b.textContent ?? ""]),
      };
    }),
  );
  update($("#clusters"), rows, () =>
    rows.length === 0
      ? muted("No clusters in this namespace yet.")
      : table(
          [
            { label: "Cluster" },
            { label: "Shards", num: true },
            { label: "Nodes", num: true },
            { label: "Version", num: true },
            { label: "Health" },
            { label: "Actions", mutating: true },
          ],
          rows.map((r) => [
            h("a", { href: clusterUi(ctx.ns, r.name), "data-key": `cl-${r.name}` }, r.name),
            r.shards === null ? "—" : String(r.shards),
            r.nodes === null ? "—" : String(r.nodes),
            r.version === null ? "—" : String(r.version),
            r.error
              ? h("span", { class: "error" }, r.error)
              : r.health.map(([cls, label]) => [h("span", { class: cls ?? "" }, label), " "]),
            rowButton(
              "Delete",
              `cl-del-${r.name}`,
              "clusters",
              `delete ${r.name}`,
              async () => {
                await confirmOrCancel(
                  `Delete cluster ${r.name}?`,
                  "Its topology is removed from the controller; the Kvrocks nodes keep running and keep their data.",
                  "Delete cluster",
                );
                await api("DELETE", clusterApi(ctx.ns, r.name));
              },
              "small danger",
            ),
          ]),
        ),
  );
}

export function registerClusterCreation(): void {
  onSubmit("create-cluster", async (form, data) => {
    const replicas = field(data, "replicas");
    const answer = await api<{ cluster: ClusterJson }>("POST", `${nsApi(ctx.ns)}/clusters`, {
      name: field(data, "name"),
      nodes: splitList(data.get("nodes")),
      replicas: replicas === "" ? 1 : Number(replicas),
      password: String(data.get("password") ?? ""),
      check_nodes: data.get("check_nodes") !== null,
    });
    form.reset();
    const c = answer.cluster;
    return `Created cluster ${c.name}: ${c.shards.length} shards, version ${c.version}.`;
  });

  onSubmit("import-cluster", async (form, data) => {
    const name = field(data, "name");
    const answer = await api<{ cluster: ClusterJson }>(
      "POST",
      `${clusterApi(ctx.ns, name)}/import`,
      { nodes: splitList(data.get("nodes")), password: String(data.get("password") ?? "") },
    );
    form.reset();
    return `Imported cluster ${answer.cluster.name}: ${answer.cluster.shards.length} shards.`;
  });
}
