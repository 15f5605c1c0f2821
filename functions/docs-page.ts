// GET /docs: the API reference rendered on the server from the OpenAPI document. No script,
// no external asset, so it reads the same with no internet access.
interface Operation {
  summary?: string;
  tags?: string[];
  parameters?: { name: string; in: string; required?: boolean; schema?: unknown }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: unknown }> };
  responses: Record<
    string,
    { description?: string; $ref?: string; content?: Record<string, { schema: unknown }> }
  >;
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

const schemaBlock = (schema: unknown) =>
  `<pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre>`;

function operationHtml(method: string, path: string, op: Operation): string {
  const params = (op.parameters ?? [])
    .map(
      (p) =>
        `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${p.in}</td><td>${p.required ? "yes" : "no"}</td><td><code>${escapeHtml(JSON.stringify(p.schema))}</code></td></tr>`,
    )
    .join("");
  const body = op.requestBody
    ? `<h4>Body${op.requestBody.required ? "" : " (optional)"}</h4>${schemaBlock(op.requestBody.content["application/json"]?.schema)}`
    : "";
  const responses = Object.entries(op.responses)
    .map(([status, r]) => {
      const schema = r.content?.["application/json"]?.schema;
      const what = r.$ref
        ? `error: <code>{"error":{"message"}}</code>`
        : escapeHtml(r.description ?? "");
      return `<li><b>${status}</b> ${what}${schema ? schemaBlock(schema) : ""}</li>`;
    })
    .join("");
  const id = `${method}-${path}`.replace(/[^\w]+/g, "-");
  return `<section id="${id}"><h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h3>
<p>${escapeHtml(op.summary ?? "")}</p>
${params ? `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th><th>schema</th></tr>${params}</table>` : ""}
${body}<h4>Answers</h4><ul>${responses}</ul></section>`;
}

export function renderDocsPage(doc: {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, unknown>>;
}): string {
  const byTag = new Map<string, string[]>();
  const index: string[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, raw] of Object.entries(methods)) {
      const op = raw as Operation;
      const tag = op.tags?.[0] ?? "other";
      byTag.set(tag, [...(byTag.get(tag) ?? []), operationHtml(method, path, op)]);
      const id = `${method}-${path}`.replace(/[^\w]+/g, "-");
      index.push(
        `<li><a href="#${id}"><span class="m ${method}">${method.toUpperCase()}</span> ${escapeHtml(path)}</a></li>`,
      );
    }
  }
  const sections = [...byTag]
    .map(([tag, ops]) => `<h2>${escapeHtml(tag)}</h2>${ops.join("\n")}`)
    .join("\n");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(doc.info.title)} API</title>
<style>
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#f3f4f6;--line:#d0d7de}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#161b22;--line:#30363d}}
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:1000px;padding:1rem 2rem;background:var(--bg);color:var(--fg)}
pre{background:var(--muted);padding:.6rem;overflow:auto;border-radius:6px;font-size:13px}
table{border-collapse:collapse}td,th{border:1px solid var(--line);padding:.2rem .5rem;text-align:left}
section{border-top:1px solid var(--line);padding:.5rem 0}.m{font:bold 12px monospace;padding:.1rem .4rem;border-radius:4px;color:#fff}
.get{background:#1f6feb}.post{background:#2da44e}.delete{background:#cf222e}a{color:inherit}
</style></head><body><h1>${escapeHtml(doc.info.title)} <small>${escapeHtml(doc.info.version)}</small></h1>
<p>${escapeHtml(doc.info.description ?? "")} The machine-readable document is at <a href="/openapi.json">/openapi.json</a>.</p>
<ul>${index.join("")}</ul>${sections}</body></html>`;
}
