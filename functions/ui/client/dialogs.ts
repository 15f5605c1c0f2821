// Confirmation dialogs, and running an action with its outcome shown next to it.

import { authenticate } from "./access.js";
import { Cancelled, messageOf, statusOf } from "./api.js";
import { $, $$, append, type Child, h, must, setText, showBanner } from "./dom.js";
import { refreshNow } from "./live.js";

export function confirmAction(
  title: string,
  content: Child | Child[],
  okLabel?: string,
  danger?: boolean,
): Promise<boolean> {
  const dialog = must<HTMLDialogElement>("#confirm-dialog");
  setText(must("#confirm-title"), title);
  const target = must("#confirm-body");
  target.replaceChildren();
  append(
    target,
    [content].flat().map((c) => (typeof c === "string" ? h("p", null, c) : c)),
  );
  const ok = must("#confirm-ok");
  setText(ok, okLabel ?? "Confirm");
  ok.className = danger === false ? "primary" : "danger";
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

export async function confirmOrCancel(
  title: string,
  content: Child | Child[],
  okLabel?: string,
  danger?: boolean,
): Promise<void> {
  if (!(await confirmAction(title, content, okLabel, danger))) throw new Cancelled();
}

/** A message to show next to the action when it succeeded, or nothing to say. */
type Outcome = unknown;

/** Runs an action; the API's error goes to errorEl (next to the action), as it came. */
export async function run(
  scope: HTMLElement,
  errorEl: Element | null,
  okEl: Element | null,
  what: string,
  fn: () => Promise<Outcome>,
): Promise<void> {
  setText(errorEl, "");
  setText(okEl, "");
  const buttons =
    scope instanceof HTMLButtonElement ? [scope] : $$<HTMLButtonElement>("button", scope);
  for (const b of buttons) b.disabled = true;
  try {
    const message = await fn();
    if (typeof message === "string" && message) setText(okEl, message);
    refreshNow();
  } catch (err) {
    if (err instanceof Cancelled) return;
    if (statusOf(err) === 401) void authenticate();
    const message = (what ? `${what}: ` : "") + messageOf(err);
    if (errorEl) setText(errorEl, message);
    else showBanner(message);
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

export type FormAction = (form: HTMLFormElement, data: FormData) => Promise<Outcome>;

const actions = new Map<string, FormAction>();

/** Forms with `data-action="name"` run the action registered under that name. */
export function onSubmit(name: string, action: FormAction): void {
  actions.set(name, action);
}

export function listenForActions(): void {
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.action) return;
    event.preventDefault();
    const handler = actions.get(form.dataset.action);
    if (!handler) return;
    void run(form, $("[data-error]", form), $("[data-ok]", form), "", () =>
      handler(form, new FormData(form)),
    );
  });
}

/** A button inside a live table; its errors go to the section's error line. */
export function rowButton(
  label: string,
  key: string,
  section: string,
  what: string,
  fn: () => Promise<Outcome>,
  cls?: string,
): HTMLElement {
  const button = h(
    "button",
    { type: "button", class: cls ?? "small", "data-key": key, "data-mutating": true },
    label,
  );
  button.addEventListener("click", () =>
    run(button, $(`[data-errors="${section}"]`), null, what, fn),
  );
  return button;
}

export function field(data: FormData, name: string): string {
  const value = data.get(name);
  return value === null ? "" : String(value).trim();
}

export function input(form: HTMLFormElement, name: string): HTMLInputElement {
  return form.elements.namedItem(name) as HTMLInputElement;
}
