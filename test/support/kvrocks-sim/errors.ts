// Kvrocks turns a failed status into "-<PREFIX> <message>": ERR unless the status carries
// one of the Redis prefixes (MOVED, CLUSTERDOWN, NOAUTH, LOADING, ...).

export type ErrorPrefix =
  | "ERR"
  | "MOVED"
  | "CLUSTERDOWN"
  | "CROSSSLOT"
  | "TRYAGAIN"
  | "NOAUTH"
  | "LOADING"
  | "READONLY"
  | "NOPROTO"
  | "MASTERDOWN";

export class CommandError extends Error {
  constructor(
    readonly prefix: ErrorPrefix,
    message: string,
  ) {
    super(message);
  }

  /** The reply line without '-' and CRLF. */
  get line(): string {
    return `${this.prefix} ${this.message}`;
  }

  /** Kvrocks's Status::Prefixed: "<prefix>: <message>", same error class. */
  prefixed(prefix: string): CommandError {
    return new CommandError(this.prefix, `${prefix}: ${this.message}`);
  }
}

export const errorOf = (message: string): CommandError => new CommandError("ERR", message);
