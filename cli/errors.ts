// kvctl's errors and the one place they become exit codes:
// 0 ok, 1 the server (or a task) said no, 2 usage, 3 no controller answered.

export const EXIT = { ok: 0, refused: 1, usage: 2, unreachable: 3 } as const;

/** The command line itself is wrong: a missing flag, a bad slot range, no namespace. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A controller answered, and the answer was no. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** No controller in the list answered. */
export class UnreachableError extends Error {
  override readonly name = "UnreachableError";
}

/** A task kvctl was following ended in `failed` or `cancelled`. */
export class TaskFailedError extends Error {
  override readonly name = "TaskFailedError";
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof UnreachableError) return EXIT.unreachable;
  return EXIT.refused;
}
