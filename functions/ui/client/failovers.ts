// The failover history table, on the cluster page and (filtered) on a node's page.
import { nodeUi } from "./api.js";
import { h, muted, table, update, when } from "./dom.js";
import { ctx } from "./page.js";
import { type FailoverRecord, isFailed, type Soft } from "./types.js";

export function renderFailovers(
  el: Element | null,
  failovers: Soft<{ failovers: FailoverRecord[] }> | null,
  keep: (f: FailoverRecord) => boolean,
): void {
  if (!failovers || isFailed(failovers)) {
    const why = failovers ? failovers.failed : "no answer";
    update(el, ["failed", why], () => muted(`Failover history unavailable: ${why}`));
    return;
  }
  const list = failovers.failovers.filter(keep).slice().reverse();
  update(el, list, () =>
    list.length === 0
      ? muted("No failovers recorded.")
      : table(
          [
            { label: "When" },
            { label: "Shard", num: true },
            { label: "Old master" },
            { label: "New master" },
            { label: "Reason" },
            { label: "Failures", num: true },
            { label: "Took", num: true },
            { label: "Version", num: true },
          ],
          list.map((f) => [
            h("time", { datetime: new Date(f.at).toISOString(), class: "nowrap" }, when(f.at)),
            String(f.shard),
            h(
              "a",
              { href: nodeUi(ctx.ns, ctx.cluster, f.old_master_id), title: f.old_master_id },
              f.old_master_addr,
            ),
            f.outcome === "refused"
              ? "not failed over"
              : h(
                  "a",
                  { href: nodeUi(ctx.ns, ctx.cluster, f.new_master_id), title: f.new_master_id },
                  f.new_master_addr,
                ),
            f.voters ? `${f.reason} (voted: ${f.voters.join(", ")})` : f.reason,
            f.failures === null ? "—" : String(f.failures),
            `${f.duration_ms} ms`,
            String(f.version),
          ]),
        ),
  );
}
