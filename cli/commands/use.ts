// `kvctl use -n NS -c CL`: the current namespace/cluster, so commands can leave the flags out.
import type { Command } from "commander";
import { writeKvctlFile } from "../config.js";
import { run } from "../context.js";
import { fields } from "../format/table.js";
import { listed, OURS } from "./groups.js";

interface UseFlags {
  clear?: boolean;
}

export function registerUse(program: Command): void {
  listed(program.command("use"), OURS, "use -n NS -c CL")
    .description("Set (or show) the current namespace and cluster")
    .option("-n, --namespace <ns>", "namespace to use from now on")
    .option("-c, --cluster <name>", "cluster to use from now on")
    .option("--clear", "forget the current namespace and cluster")
    .addHelpText(
      "after",
      "\nStored in $KVCTL_CONFIG, else ~/.kvctl.yaml. Without flags, shows what is in use.",
    )
    .action(
      run<UseFlags>((ctx, opts) => {
        const { settings } = ctx;
        let file = settings.file;
        if (opts.clear) {
          file = writeKvctlFile(settings.filePath, { namespace: undefined, cluster: undefined });
        } else if (opts.namespace !== undefined || opts.cluster !== undefined) {
          // A new namespace without a cluster forgets the old namespace's cluster.
          const namespace = opts.namespace ?? file.namespace;
          const cluster = opts.cluster ?? (namespace === file.namespace ? file.cluster : undefined);
          file = writeKvctlFile(settings.filePath, { namespace, cluster });
        }
        const data = {
          namespace: file.namespace ?? null,
          cluster: file.cluster ?? null,
          controllers: settings.controllers,
          controllers_from: settings.controllersFrom,
          config: settings.filePath,
        };
        ctx.out.result(data, () =>
          fields([
            ["namespace", data.namespace],
            ["cluster", data.cluster],
            ["controllers", `${data.controllers.join(", ")} (from ${data.controllers_from})`],
            ["config file", data.config],
          ]),
        );
      }),
    );
}
