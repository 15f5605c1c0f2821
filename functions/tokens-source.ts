// The tokens the API accepts: fixed ones from the configuration plus those of the tokens file,
// which is re-read when it changes. A stat at most every RECHECK_MS, on the request path: no
// watcher (fs.watch misses editors' rename-writes) and no timer (Lambda freezes them).
import { readFileSync, statSync } from "node:fs";
import { errorMessage } from "../lib/errors.js";
import type { Logger } from "../lib/log.js";
import {
  parseNamespaceTokenEntry,
  parseTokenEntry,
  parseTokensFile,
  type TokenEntry,
} from "../lib/tokens.js";

export interface AuthConfig {
  /** `name:token` or bare: admin. */
  tokens: readonly string[];
  /** `name:token` or bare: read-only. */
  readonlyTokens: readonly string[];
  /** `namespace=token`: that namespace's clusters only. */
  namespaceTokens?: readonly string[];
  tokensFile?: string;
}

const RECHECK_MS = 500;

export class TokenSource {
  private readonly fixed: TokenEntry[];
  private all: TokenEntry[];
  private stamp = "";
  private checkedAt = 0;

  /** Throws when an entry or the tokens file is invalid: a start-up error. */
  constructor(
    private readonly auth: AuthConfig,
    private readonly log: Logger,
  ) {
    this.fixed = [
      ...auth.tokens.map((t) => parseTokenEntry(t, "admin")),
      ...auth.readonlyTokens.map((t) => parseTokenEntry(t, "read")),
      ...(auth.namespaceTokens ?? []).map(parseNamespaceTokenEntry),
    ];
    this.all = this.fixed;
    const file = auth.tokensFile;
    if (file !== undefined) {
      const { stamp, entries } = readTokensFile(file);
      this.stamp = stamp;
      this.all = [...this.fixed, ...entries];
      this.checkedAt = Date.now();
    }
  }

  /** With no token anywhere the API is open; a tokens file, even empty, closes it. */
  get enabled(): boolean {
    return this.fixed.length > 0 || this.auth.tokensFile !== undefined;
  }

  entries(): readonly TokenEntry[] {
    this.refresh();
    return this.all;
  }

  private refresh(): void {
    const file = this.auth.tokensFile;
    if (file === undefined || Date.now() - this.checkedAt < RECHECK_MS) return;
    this.checkedAt = Date.now();
    let stamp: string;
    try {
      stamp = fileStamp(file);
    } catch (err) {
      if (this.stamp !== "gone")
        this.log.error(
          { tokens_file: file, error: errorMessage(err) },
          "tokens file unreadable; keeping the tokens last read from it",
        );
      this.stamp = "gone";
      return;
    }
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    try {
      const { entries } = readTokensFile(file);
      this.all = [...this.fixed, ...entries];
      this.log.info({ tokens_file: file, count: entries.length }, "tokens file re-read");
    } catch (err) {
      // Parse errors never quote the file, so this line cannot carry a token.
      this.log.error(
        { tokens_file: file, error: errorMessage(err) },
        "tokens file invalid; keeping the tokens last read from it",
      );
    }
  }
}

function fileStamp(path: string): string {
  const st = statSync(path);
  return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

function readTokensFile(path: string): { stamp: string; entries: TokenEntry[] } {
  let stamp: string;
  let text: string;
  try {
    stamp = fileStamp(path);
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read tokens file ${path}: ${errorMessage(err)}`);
  }
  return { stamp, entries: parseTokensFile(text, path) };
}
