// Live refresh: a page's loader runs every few seconds while the tab is visible, never twice
// at once; an action asks for a refresh as soon as it is done.

import { authenticate } from "./access.js";
import { messageOf, statusOf } from "./api.js";
import { hideBanner, showBanner } from "./dom.js";
import { REFRESH_MS } from "./page.js";

let refresh: () => void = () => {};

export function refreshNow(): void {
  refresh();
}

export function live(load: () => Promise<void>): void {
  let busy = false;
  let again = false;
  async function tick(): Promise<void> {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      await load();
      hideBanner();
    } catch (err) {
      if (statusOf(err) === 401) await authenticate();
      else showBanner(messageOf(err));
    } finally {
      busy = false;
      if (again) {
        again = false;
        void tick();
      }
    }
  }
  refresh = () => void tick();
  void tick();
  setInterval(() => {
    if (!document.hidden) void tick();
  }, REFRESH_MS);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) void tick();
  });
}
