// The console's entry: find out what the token may do, then keep the page's data live.
import { authenticate, signOut } from "./access.js";
import { listenForActions } from "./dialogs.js";
import { must } from "./dom.js";
import { live } from "./live.js";
import { page } from "./page.js";
import { loadCluster, registerClusterActions } from "./pages/cluster.js";
import { loadNamespace, registerClusterCreation } from "./pages/namespace.js";
import { loadNamespaces, registerNamespaceActions } from "./pages/namespaces.js";
import { loadNode } from "./pages/node.js";

const loaders: Record<string, () => Promise<void>> = {
  namespaces: loadNamespaces,
  namespace: loadNamespace,
  cluster: loadCluster,
  node: loadNode,
};

must("#signout").addEventListener("click", signOut);
must("#token-dialog").addEventListener("cancel", (event) => event.preventDefault());
listenForActions();
registerNamespaceActions();
registerClusterCreation();
registerClusterActions();

void (async () => {
  await authenticate();
  const load = loaders[page];
  if (load) live(load);
  document.body.dataset.ready = "yes";
})();
