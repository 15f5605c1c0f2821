// What the operator's token may do, found out from the API itself without changing anything.
import { api, messageOf, statusOf, TOKEN_KEY, token } from "./api.js";
import { hideBanner, must, setText, showBanner, sleep } from "./dom.js";
import { REFRESH_MS } from "./page.js";

type Access = "none" | "readonly" | "full";

/** What GET /api/v1/token answers about the session's token. */
interface TokenInfo {
  name: string;
  role: "admin" | "write" | "read";
  namespaces: string[] | null;
  read_only: boolean;
  may_manage_namespaces: boolean;
}

// GET /token answers 401 when a token is needed and missing or wrong, and otherwise says what
// the token may do: the console hides what the API would refuse.
async function probeAccess(): Promise<{ access: Access; info: TokenInfo | null }> {
  try {
    const info = await api<TokenInfo>("GET", "/token");
    return { access: info.read_only ? "readonly" : "full", info };
  } catch (err) {
    if (statusOf(err) === 401) return { access: "none", info: null };
    throw err;
  }
}

function setAccess(value: Access, info: TokenInfo | null): void {
  document.body.dataset.access = value;
  // Namespace tokens and write tokens may change clusters but not create namespaces.
  document.body.dataset.manageNamespaces = info?.may_manage_namespaces === false ? "no" : "yes";
  const el = must("#access");
  const hasToken = token() !== "";
  const scope = info?.namespaces ? ` (namespace ${info.namespaces.join(", ")})` : "";
  if (value === "full") {
    const what = info?.role === "write" ? "write access" : "full access";
    setText(el, hasToken ? `${what}${scope}` : "open API: no tokens configured");
    el.className = `badge ${hasToken ? "ok" : "warn"}`;
  } else if (value === "readonly") {
    setText(el, `read-only token${scope}`);
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
    let found: Awaited<ReturnType<typeof probeAccess>>;
    try {
      found = await probeAccess();
    } catch (err) {
      showBanner(messageOf(err));
      await sleep(REFRESH_MS);
      continue;
    }
    if (found.access !== "none") {
      hideBanner();
      setAccess(found.access, found.info);
      return;
    }
    const refused = token() !== "";
    sessionStorage.removeItem(TOKEN_KEY);
    setAccess("none", null);
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
