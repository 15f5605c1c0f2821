// The web console under /ui: public HTML shells plus one script and one stylesheet, all
// served from memory by these handlers (the script is bundled once, nothing from a CDN).
// The pages hold no data; the script calls /api/v1 with the operator's token, so
// authentication stays in the API's one middleware.
import { createHash } from "node:crypto";
import type { Context } from "hono";
import { Hono } from "hono";
import { html } from "hono/html";
import { NodeId, ResourceName } from "../../lib/model/index.js";
import { consoleScript } from "./console-script.js";
import { type Crumb, Shell, type ShellProps } from "./layout.js";
import { ClusterBody, MissingBody, NamespaceBody, NamespacesBody, NodeBody } from "./pages.js";
import { CONSOLE_CSS } from "./styles.js";

interface Asset {
  body: string;
  type: string;
  url: string;
}

function asset(name: string, ext: string, body: string, type: string): Asset {
  const hash = createHash("sha256").update(body).digest("hex").slice(0, 12);
  return { body, type, url: `/ui/assets/${name}.${hash}.${ext}` };
}

const style = asset("console", "css", CONSOLE_CSS, "text/css; charset=utf-8");

let assetsReady: Promise<{ script: Asset; assets: Map<string, Asset> }> | undefined;

/** The script's URL carries its content hash, so it is known once the script is built. */
function loadAssets() {
  assetsReady ??= consoleScript().then((js) => {
    const script = asset("console", "js", js, "text/javascript; charset=utf-8");
    return { script, assets: new Map([script, style].map((a) => [a.url, a])) };
  });
  assetsReady.catch(() => {
    assetsReady = undefined;
  });
  return assetsReady;
}

// Only our own script and stylesheet; the script talks to this origin's API only.
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

type PageProps = Omit<ShellProps, "scriptUrl" | "styleUrl">;

async function render(c: Context, props: PageProps, status: 200 | 404 = 200) {
  const { script } = await loadAssets();
  c.header("content-security-policy", CSP);
  c.header("x-content-type-options", "nosniff");
  c.header("referrer-policy", "no-referrer");
  c.header("cache-control", "no-cache");
  const page = (
    <Shell {...props} scriptUrl={script.url} styleUrl={style.url}>
      {props.children}
    </Shell>
  );
  return c.html(html`<!doctype html>${page}`, status);
}

const home: Crumb = { label: "namespaces", href: "/ui" };
const nsHref = (ns: string) => `/ui/namespaces/${encodeURIComponent(ns)}`;
const clusterHref = (ns: string, cl: string) => `${nsHref(ns)}/clusters/${encodeURIComponent(cl)}`;

const validName = (value: string) => ResourceName.safeParse(value).success;

function missing(c: Context) {
  return render(
    c,
    {
      title: "Not found",
      page: "missing",
      crumbs: [home, { label: "not found" }],
      children: <MissingBody />,
    },
    404,
  );
}

export function uiRoutes() {
  return new Hono()
    .get("/", (c) =>
      render(c, {
        title: "Namespaces",
        page: "namespaces",
        crumbs: [{ label: "namespaces" }],
        children: <NamespacesBody />,
      }),
    )
    .get("/namespaces/:ns", (c) => {
      const ns = c.req.param("ns");
      if (!validName(ns)) return missing(c);
      return render(c, {
        title: `Namespace ${ns}`,
        page: "namespace",
        ns,
        crumbs: [home, { label: ns }],
        children: <NamespaceBody />,
      });
    })
    .get("/namespaces/:ns/clusters/:cluster", (c) => {
      const { ns, cluster } = c.req.param();
      if (!validName(ns) || !validName(cluster)) return missing(c);
      return render(c, {
        title: `Cluster ${cluster}`,
        page: "cluster",
        ns,
        cluster,
        crumbs: [home, { label: ns, href: nsHref(ns) }, { label: cluster }],
        children: <ClusterBody />,
      });
    })
    .get("/namespaces/:ns/clusters/:cluster/nodes/:id", (c) => {
      const { ns, cluster, id } = c.req.param();
      if (!validName(ns) || !validName(cluster) || !NodeId.safeParse(id).success) return missing(c);
      return render(c, {
        title: `Node ${id.slice(0, 8)}…`,
        page: "node",
        ns,
        cluster,
        node: id,
        crumbs: [
          home,
          { label: ns, href: nsHref(ns) },
          { label: cluster, href: clusterHref(ns, cluster) },
          { label: `node ${id.slice(0, 8)}` },
        ],
        children: <NodeBody />,
      });
    })
    .get("/assets/:file", async (c) => {
      const found = (await loadAssets()).assets.get(c.req.path);
      if (!found) return c.text("no such asset", 404);
      c.header("content-type", found.type);
      c.header("x-content-type-options", "nosniff");
      // The name carries the content's hash, so a new release is a new URL.
      c.header("cache-control", "public, max-age=31536000, immutable");
      return c.body(found.body);
    })
    .get("/*", (c) => (c.req.path === "/ui/" ? c.redirect("/ui") : missing(c)));
}
