// What every command handler gets: the API, the output, and the current namespace/cluster.
import type { Command } from "commander";
import { type Api, apiOf } from "./api.js";
import { Client } from "./client.js";
import { type GlobalFlags, loadSettings, type Settings } from "./config.js";
import { UsageError } from "./errors.js";
import { Output, parseFormat } from "./format/output.js";

export interface ScopeFlags {
  namespace?: string;
  cluster?: string;
}

/**
 * Where the interactive shell stands (`/ns/cluster/`). While it is active, commands take the
 * namespace and cluster from it instead of what `kvctl use` stored.
 */
export const shellLocation: { active: boolean; namespace?: string; cluster?: string } = {
  active: false,
};

export class Ctx {
  constructor(
    readonly settings: Settings,
    readonly out: Output,
    readonly api: Api,
  ) {}

  /** -n, else the namespace set with `kvctl use`. */
  namespace(flags: ScopeFlags): string {
    const ns =
      flags.namespace ??
      (shellLocation.active ? shellLocation.namespace : this.settings.file.namespace);
    if (!ns) {
      if (shellLocation.active)
        throw new UsageError("no namespace: cd into one first (ls lists them)");
      throw new UsageError(
        "no namespace: pass -n/--namespace NS, or set a current one with 'kvctl use -n NS'",
      );
    }
    return ns;
  }

  /**
   * The cluster from an argument, -c, or `kvctl use`; the used cluster only counts when the
   * namespace is the used one too.
   */
  scope(flags: ScopeFlags, name?: string): { ns: string; cl: string } {
    const ns = this.namespace(flags);
    const file = shellLocation.active ? shellLocation : this.settings.file;
    const fromFile = ns === file.namespace ? file.cluster : undefined;
    const cl = name ?? flags.cluster ?? fromFile;
    if (!cl) {
      if (shellLocation.active)
        throw new UsageError("no cluster: cd into one first (ls lists them)");
      throw new UsageError(
        "no cluster: pass -c/--cluster CL, or set a current one with 'kvctl use -n NS -c CL'",
      );
    }
    return { ns, cl };
  }
}

export interface GlobalOptions extends GlobalFlags {
  output?: string;
  verbose?: boolean;
}

export function contextFor(cmd: Command, env = process.env): Ctx {
  const flags = cmd.optsWithGlobals<GlobalOptions>();
  const out = new Output(parseFormat(flags.output));
  const settings = loadSettings(flags, env);
  const client = new Client({
    controllers: settings.controllers,
    token: settings.token,
    timeoutMs: settings.timeoutMs,
    onFallback: flags.verbose
      ? (controller, reason) =>
          out.info(`${controller} did not answer (${reason}); trying the next`)
      : undefined,
  });
  return new Ctx(settings, out, apiOf(client));
}

export type Args = readonly (string | undefined)[];

/** Wraps a handler as a commander action: builds the context, passes options and arguments. */
export function run<O extends object = Record<string, never>>(
  handler: (ctx: Ctx, opts: O & ScopeFlags, args: Args) => Promise<void> | void,
) {
  return async (...params: unknown[]) => {
    const cmd = params[params.length - 1] as Command;
    const ctx = contextFor(cmd);
    const args = (cmd.processedArgs as unknown[]).map((a) =>
      a === undefined ? undefined : String(a),
    );
    await handler(ctx, cmd.optsWithGlobals<O & ScopeFlags>(), args);
  };
}
