// The HTML shell every console page shares. It carries no data: the client script reads the
// page's identity from `data-*` attributes and fetches everything from /api/v1 with the token.
import type { Child, FC } from "hono/jsx";

export interface Crumb {
  label: string;
  href?: string;
}

export interface ShellProps {
  title: string;
  page: "namespaces" | "namespace" | "cluster" | "node" | "missing";
  crumbs: Crumb[];
  ns?: string;
  cluster?: string;
  node?: string;
  scriptUrl: string;
  styleUrl: string;
  children?: Child;
}

export const Shell: FC<ShellProps> = (props) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="color-scheme" content="light dark" />
      <meta name="referrer" content="no-referrer" />
      <title>{`${props.title} · kvrocks-controller`}</title>
      <link rel="stylesheet" href={props.styleUrl} />
      <script type="module" src={props.scriptUrl} />
    </head>
    <body
      data-page={props.page}
      data-ns={props.ns}
      data-cluster={props.cluster}
      data-node={props.node}
      data-access="pending"
    >
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/ui">
          kvrocks-controller
        </a>
        <nav aria-label="Breadcrumb" class="crumbs">
          <ol>
            {props.crumbs.map((c, i) => (
              <li>
                {c.href && i < props.crumbs.length - 1 ? (
                  <a href={c.href}>{c.label}</a>
                ) : (
                  <span aria-current="page">{c.label}</span>
                )}
              </li>
            ))}
          </ol>
        </nav>
        <div class="who">
          <span id="access" class="badge muted" aria-live="polite">
            checking access…
          </span>
          <button type="button" id="signout" class="small" hidden>
            Forget token
          </button>
        </div>
      </header>
      <div id="banner" class="banner" role="alert" hidden />
      <main id="main" tabindex={-1}>
        <h1>{props.title}</h1>
        <noscript>
          <p class="error">This console needs JavaScript; the API at /api/v1 works without it.</p>
        </noscript>
        {props.children}
      </main>
      <dialog id="token-dialog" aria-labelledby="token-title">
        <form method="dialog" id="token-form">
          <h2 id="token-title">API token</h2>
          <p id="token-message" />
          <label>
            Token
            <input type="password" name="token" autocomplete="off" required />
          </label>
          <p class="hint">
            Kept for this browser tab only (sessionStorage) and sent to /api/v1 as a bearer token.
          </p>
          <div class="buttons">
            <button type="submit" class="primary">
              Use token
            </button>
          </div>
        </form>
      </dialog>
      <dialog id="confirm-dialog" aria-labelledby="confirm-title">
        <form method="dialog">
          <h2 id="confirm-title">Confirm</h2>
          <div id="confirm-body" />
          <div class="buttons">
            <button type="submit" value="cancel" autofocus>
              Cancel
            </button>
            <button type="submit" value="ok" id="confirm-ok" class="danger">
              Confirm
            </button>
          </div>
        </form>
      </dialog>
    </body>
  </html>
);

/** An action form: the client runs `data-action` and shows the API's answer next to it. */
export const ActionForm: FC<{
  action: string;
  submit: string;
  danger?: boolean;
  children?: Child;
}> = (props) => (
  <form class="action" data-action={props.action} data-mutating>
    {props.children}
    <div class="row">
      <button type="submit" class={props.danger ? "danger" : "primary"}>
        {props.submit}
      </button>
    </div>
    <p class="error" role="alert" data-error />
    <p class="ok-msg" role="status" data-ok />
  </form>
);

/** A section whose body the client renders; `errors` is where its row actions report. */
export const DataSection: FC<{ id: string; heading: string; children?: Child }> = (props) => (
  <section aria-labelledby={`${props.id}-h`}>
    <h2 id={`${props.id}-h`}>{props.heading}</h2>
    {props.children}
    <p class="error" role="alert" data-errors={props.id} />
    <div id={props.id} class="table-wrap">
      <p class="muted">Loading…</p>
    </div>
  </section>
);
