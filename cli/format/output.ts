// Where everything kvctl prints goes through: tables for people, the API's data for scripts.
import { stringify } from "yaml";
import { UsageError } from "../errors.js";

export const FORMATS = ["table", "json", "yaml"] as const;
export type Format = (typeof FORMATS)[number];

interface Sink {
  write(text: string): unknown;
  isTTY?: boolean;
}

export function parseFormat(text: string | undefined): Format {
  const format = (text ?? "table").toLowerCase();
  if (format === "wide") return "table";
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`-o/--output must be one of ${FORMATS.join(", ")}, got "${text}"`);
  }
  return format as Format;
}

export class Output {
  constructor(
    readonly format: Format,
    readonly stdout: Sink = process.stdout,
    readonly stderr: Sink = process.stderr,
  ) {}

  get machine(): boolean {
    return this.format !== "table";
  }

  /** The result of a command: `data` as JSON/YAML, or what `human` renders for a person. */
  result(data: unknown, human: () => string): void {
    if (this.format === "json") this.line(JSON.stringify(data ?? null, null, 2));
    else if (this.format === "yaml") this.stdout.write(stringify(data ?? null));
    else {
      const text = human();
      if (text !== "") this.line(text);
    }
  }

  /** Progress and warnings: stderr, so stdout stays parseable. */
  info(message: string): void {
    this.stderr.write(`${message}\n`);
  }

  error(message: string): void {
    this.stderr.write(`error: ${message}\n`);
  }

  private line(text: string): void {
    this.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  }
}
