// The namespaces page: every namespace with its cluster count; create and delete.
import { api, nsApi, nsUi } from "../api.js";
import { confirmOrCancel, field, onSubmit, rowButton } from "../dialogs.js";
import { $, h, muted, table, update } from "../dom.js";

export async function loadNamespaces(): Promise<void> {
  const { namespaces } = await api<{ namespaces: string[] }>("GET", "/namespaces");
  const counts = await Promise.all(
    namespaces.map((ns) =>
      api<{ clusters: string[] }>("GET", `${nsApi(ns)}/clusters`).then(
        (d) => d.clusters.length,
        () => "?",
      ),
    ),
  );
  update($("#namespaces"), [namespaces, counts], () =>
    namespaces.length === 0
      ? muted("No namespaces yet.")
      : table(
          [
            { label: "Namespace" },
            { label: "Clusters", num: true },
            { label: "Actions", mutating: true },
          ],
          namespaces.map((ns, i) => [
            h("a", { href: nsUi(ns), "data-key": `ns-${ns}` }, ns),
            String(counts[i]),
            rowButton(
              "Delete",
              `ns-del-${ns}`,
              "namespaces",
              `delete ${ns}`,
              async () => {
                await confirmOrCancel(
                  `Delete namespace ${ns}?`,
                  "The API refuses while the namespace still holds clusters.",
                  "Delete namespace",
                );
                await api("DELETE", nsApi(ns));
              },
              "small danger",
            ),
          ]),
        ),
  );
}

export function registerNamespaceActions(): void {
  onSubmit("create-namespace", async (form, data) => {
    const namespace = field(data, "namespace");
    await api("POST", "/namespaces", { namespace });
    form.reset();
    return `Created namespace ${namespace}.`;
  });
}
