// Building the DOM: createElement and textContent only, never innerHTML with data.

export type Child = Node | string | number | null | undefined | false | Child[];
type AttrValue = string | number | boolean | null | undefined | Partial<CSSStyleDeclaration>;
export type Attrs = Record<string, AttrValue | EventListener> | null;

export function $<T extends Element = HTMLElement>(selector: string, root?: ParentNode): T | null {
  return (root ?? document).querySelector<T>(selector);
}

/** An element the page's HTML always has; its absence is a bug worth a loud error. */
export function must<T extends Element = HTMLElement>(selector: string): T {
  const el = $<T>(selector);
  if (!el) throw new Error(`the page has no ${selector}`);
  return el;
}

export function $$<T extends Element = HTMLElement>(selector: string, root?: ParentNode): T[] {
  return Array.from((root ?? document).querySelectorAll<T>(selector));
}

export function setText(el: Element | null | undefined, value: unknown): void {
  if (el) el.textContent = value === null || value === undefined ? "" : String(value);
}

export function h(tag: string, attrs: Attrs, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = String(value);
    else if (key === "style") Object.assign(el.style, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element: attributes as given, children as for `h`. */
export function svg(
  tag: string,
  attrs: Record<string, string | number | null | undefined>,
  ...children: Child[]
): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const child of children.flat(Infinity as 1) as Child[]) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export const badge = (label: string, kind: string) => h("span", { class: `badge ${kind}` }, label);
export const muted = (label: string) => h("p", { class: "muted" }, label);
export const mono = (value: string, title?: string) => h("span", { class: "mono", title }, value);

export const signatures = new WeakMap<Element, string>();

/** Rebuilds a region only when what it shows changed, and keeps keyboard focus in it. */
export function update(el: Element | null, data: unknown, build: () => Child): void {
  if (!el) return;
  const signature = JSON.stringify(data);
  if (signatures.get(el) === signature) return;
  signatures.set(el, signature);
  const active = document.activeElement;
  const key = active && el.contains(active) ? active.getAttribute("data-key") : null;
  el.replaceChildren();
  append(el, [build()]);
  if (key) {
    const again = $$("[data-key]", el).find((x) => x.getAttribute("data-key") === key);
    if (again) again.focus();
  }
}

export interface Column {
  label: string;
  num?: boolean;
  mutating?: boolean;
}

export function table(columns: Column[], rows: Child[][]): HTMLElement {
  const cls = (c: Column | undefined) =>
    [c?.num ? "num" : "", c?.mutating ? "actions-cell" : ""].join(" ").trim();
  return h(
    "table",
    null,
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        columns.map((c) =>
          h("th", { scope: "col", class: cls(c), "data-mutating": !!c.mutating }, c.label),
        ),
      ),
    ),
    h(
      "tbody",
      null,
      rows.map((cells) =>
        h(
          "tr",
          null,
          cells.map((cell, i) =>
            h("td", { class: cls(columns[i]), "data-mutating": !!columns[i]?.mutating }, cell),
          ),
        ),
      ),
    ),
  );
}

export function setOptions(select: HTMLSelectElement | null, options: [string, string][]): void {
  if (!select) return;
  const signature = JSON.stringify(options);
  if (signatures.get(select) === signature) return;
  signatures.set(select, signature);
  const keep = select.value;
  select.replaceChildren();
  append(
    select,
    options.map(([value, label]) => h("option", { value }, label)),
  );
  if (options.some((o) => o[0] === keep)) select.value = keep;
}

export function showBanner(message: string): void {
  const el = must("#banner");
  setText(el, message);
  el.hidden = false;
}

export function hideBanner(): void {
  must("#banner").hidden = true;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function ago(ms: number | null | undefined): string {
  if (!ms) return "never";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

export const when = (ms: number | null | undefined) => (ms ? new Date(ms).toLocaleString() : "—");

export const splitList = (value: unknown) =>
  String(value ?? "")
    .split(/[\s,;]+/)
    .filter(Boolean);

export function shortList(items: string[], max: number): string {
  return items.length <= max
    ? items.join(", ")
    : `${items.slice(0, max).join(", ")} … (+${items.length - max})`;
}

/** 33013760 → "31.5 MiB". */
export function bytes(n: number | null): string {
  if (n === null) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
