// External validators some tests run (kubectl, systemd-analyze, promtool, cfn-lint). A test
// that needs one never passes silently without it: on a developer's machine it is skipped
// with the reason shown in the report; in CI (CI=true) a tool that .ci/run installs from the
// registries this project reaches (Debian's packages) must be there, so its absence fails
// the test. A tool no reachable registry has in a usable version (cfn-lint: PyPI only;
// kubectl: see below; both come with the machine image) is skipped with its reason in CI too.
import type { TestContext } from "vitest";
import { which } from "../../deploy/local/procs.js";

export interface Tool {
  name: string;
  /** How .ci/run installs it, or null when no registry this project reaches has it. */
  install: string | null;
}

export const TOOLS = {
  // Debian's kubernetes-client is kubectl 1.20, whose kustomize refuses deploy/k8s
  // (`unknown field "labels"`): no reachable registry has a usable one; the image has one.
  kubectl: { name: "kubectl", install: null },
  systemdAnalyze: { name: "systemd-analyze", install: "Debian: apt-get install systemd" },
  promtool: { name: "promtool", install: "Debian: apt-get install prometheus" },
  cfnLint: { name: "cfn-lint", install: null },
} satisfies Record<string, Tool>;

/** The tool's path; otherwise the test is skipped with the reason, or fails in CI. */
export function requireTool(ctx: TestContext, tool: Tool): string {
  const path = which(tool.name);
  if (path) return path;
  if (process.env.CI === "true" && tool.install !== null) {
    throw new Error(`${tool.name} is not installed; CI must install it (${tool.install})`);
  }
  const how = tool.install ?? "no registry this project reaches has a usable one";
  return ctx.skip(`${tool.name} not installed (${how}): not checked`);
}
