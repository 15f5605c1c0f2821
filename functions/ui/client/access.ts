// What the operator's token may do, found out from the API itself without changing anything.
import { ApiError, api, messageOf, statusOf, TOKEN_KEY, token } from "./api.js";
import { hideBanner, must, setText, showBanner, sleep } from "./dom.js";
import { REFRESH_MS } from "./page.js";

type Access = "none" | "readonly" | "full";

// GET /namespaces answers 401 when a token is needed and missing or wrong. Then
// POST /namespaces with an empty body: the bearer middleware runs before any route
// validates its body (functions/app.ts), so a read-only token gets 403 and a full token
// (or an open API) gets 400 for the missing name. Nothing is created either way.
async function probeAccess(): Promise<Access> {
  try {
    await api("GET", "/namespaces");
  } catch (err) {
    if (statusOf(err) === 401) return "none";
    throw err;
  }
  try {
    await api("POST", "/namespaces", {});
  } catch (err) {
    const status = statusOf(err);
    if (status === 400) return "full";
    if (!(err instanceof ApiError) || status === 0 || status >= 500) throw err;
  }
  return "readonly";
}

function setAccess(value: Access): void {
  document.body.dataset.access = value;
  const el = must("#access");
  const hasToken = token() !== "";
  if (value === "full") {
    setText(el, hasToken ? "full access" : "open API: no tokens configured");
    el.className = `badge ${hasToken ? "ok" : "warn"}`;
  } else if (value === "readonly") {
    setText(el, "read-only token");
    el.className = "badge info";
  } else {
    setText(el, "no token");
    el.className = "badge muted";
  }
  must("#signout").hidden = !hasToken;
}

function askToken(message: string): Promise<string> {
  const dialog = must<HTMLDialogElement>("#token-dialog");
  const form = must<HTMLFormElement>("#token-form");
  setText(must("#token-message"), message);
  form.reset();
  return new Promise((resolve) => {
    const onSubmit = () => {
      const input = form.elements.namedItem("token") as HTMLInputElement;
      const value = input.value.trim();
      if (!value) return;
      form.removeEventListener("submit", onSubmit);
      resolve(value);
    };
    form.addEventListener("submit", onSubmit);
    if (!dialog.open) dialog.showModal();
  });
}

let authenticating: Promise<void> | null = null;

/** Until the API accepts this session: asks for a token as often as needed. One at a time. */
export function authenticate(): Promise<void> {
  authenticating ??= runAuthentication().finally(() => {
    authenticating = null;
  });
  return authenticating;
}

async function runAuthentication(): Promise<void> {
  for (;;) {
    let found: Access;
    try {
      found = await probeAccess();
    } catch (err) {
      showBanner(messageOf(err));
      await sleep(REFRESH_MS);
      continue;
    }
    if (found !== "none") {
      hideBanner();
      setAccess(found);
      return;
    }
    const refused = token() !== "";
    sessionStorage.removeItem(TOKEN_KEY);
    setAccess("none");
    const entered = await askToken(
      refused
        ? "The API refused that token. Enter another one."
        : "This controller requires an API token.",
    );
    sessionStorage.setItem(TOKEN_KEY, entered);
  }
}

export function signOut(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
}
