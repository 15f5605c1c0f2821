// deploy/: every manifest parses and points at files, commands, routes and variables that exist.
// The external validators (kubectl kustomize, systemd-analyze verify, cfn-lint): skipped with
// the reason where missing, and a failure in CI where .ci/run can install them (support/tools).
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments, parse as parseYaml, type Tags } from "yaml";
import { parseProbeArgs } from "../../cron/args.js";
import type { HANDLERS } from "../../deploy/bundle.js";
import { createApp } from "../../functions/app.js";
import { loadConfig } from "../../lib/config/index.js";
import { openRuntime, type Runtime } from "../../lib/runtime.js";
import { sharedEtcdEndpoints, uniquePrefix } from "../support/env.js";
import { requireTool, TOOLS } from "../support/tools.js";
import {
  commandWords,
  exec,
  knownEnvVars,
  parseCopy,
  parseDockerfile,
  ROOT,
  read,
} from "./helpers.js";

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, checked field by field below
type Tree = any;

const KNOWN = knownEnvVars();
const pkg = JSON.parse(read("package.json")) as { scripts: Record<string, string> };

/** dist/x/y.js -> the x/y.ts it is compiled from. */
function sourceOf(distPath: string): string {
  return distPath.replace(/^dist\//, "").replace(/\.js$/, ".ts");
}

/** The probe's hard stop for given args (cron/probe.ts): --for + 10 node timeouts + 5 s. */
function probeBudgetMs(args: string[], probeTimeoutMs = 1000): number {
  const parsed = parseProbeArgs(args);
  return parsed.budgetMs ?? parsed.forMs + 10 * probeTimeoutMs + 5000;
}

// ---------------------------------------------------------------------------------------------

describe("the app serves what the manifests probe", () => {
  let runtime: Runtime;
  let app: ReturnType<typeof createApp>;
  beforeAll(() => {
    const config = loadConfig(undefined, {
      KVC_ETCD_ENDPOINTS: sharedEtcdEndpoints().join(","),
      KVC_ETCD_PREFIX: uniquePrefix("deploy"),
    });
    runtime = openRuntime(config);
    app = createApp({
      ops: runtime.ops,
      auth: config.auth,
      bodyLimitBytes: config.http.bodyLimitBytes,
      probeFailures: config.probe.failures,
    });
  });
  afterAll(() => runtime.close());

  it("answers /healthz and /readyz with 200", async () => {
    expect((await app.request("/healthz")).status).toBe(200);
    expect((await app.request("/readyz")).status).toBe(200);
  });

  it("is what every k8s HTTP probe asks for", async () => {
    const docs = parseAllDocuments(read("deploy/k8s/api.yaml")).map((d) => d.toJS());
    const deployment = docs.find((d) => d.kind === "Deployment");
    const paths = deployment.spec.template.spec.containers.flatMap(
      (c: { readinessProbe?: ProbeSpec; livenessProbe?: ProbeSpec }) =>
        [c.readinessProbe, c.livenessProbe].map((p) => p?.httpGet?.path),
    );
    expect(paths).toEqual(["/readyz", "/healthz"]);
    for (const path of paths) expect((await app.request(path)).status).toBe(200);
  });
});

interface ProbeSpec {
  httpGet?: { path: string; port: string | number };
}

// ---------------------------------------------------------------------------------------------

describe("deploy/docker/Dockerfile", () => {
  const stages = parseDockerfile(read("deploy/docker/Dockerfile"));
  const byName = new Map(stages.map((s) => [s.name, s]));
  const ignored = read("deploy/docker/Dockerfile.dockerignore")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));

  it("has a build stage, a non-root runtime, and probe and api (default) targets on it", () => {
    expect(stages.map((s) => s.name)).toEqual(["build", "runtime", "probe", "api"]);
    expect(byName.get("probe")!.from).toBe("runtime");
    expect(byName.get("api")!.from).toBe("runtime");
    const user = byName.get("runtime")!.instructions.filter((i) => i.keyword === "USER");
    expect(user.map((u) => u.args)).toEqual(["node"]);
  });

  it("copies only sources that exist in the context and are not .dockerignored", () => {
    const copies = stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === "COPY")
      .map((i) => parseCopy(i.args))
      .filter((c) => c.from === undefined);
    expect(copies.length).toBeGreaterThan(0);
    for (const { sources } of copies) {
      for (const src of sources) {
        expect(existsSync(join(ROOT, src)), `${src} exists`).toBe(true);
        expect(ignored, `${src} is not ignored`).not.toContain(src);
      }
    }
    // The runtime stage copies what the build stage made.
    const fromBuild = byName
      .get("runtime")!
      .instructions.filter((i) => i.keyword === "COPY")
      .map((i) => parseCopy(i.args));
    expect(fromBuild.every((c) => c.from === "build")).toBe(true);
    expect(fromBuild.map((c) => c.sources[0])).toEqual([
      "/app/package.json",
      "/app/node_modules",
      "/app/dist",
    ]);
  });

  it("runs npm scripts that exist, and tsc writes to dist/", () => {
    const runs = byName.get("build")!.instructions.filter((i) => i.keyword === "RUN");
    const scripts = runs.flatMap((r) => [...r.args.matchAll(/npm run (\S+)/g)].map((m) => m[1]!));
    expect(scripts).toEqual(["build"]);
    expect(pkg.scripts.build).toBe(
      "tsc -p tsconfig.build.json && tsx functions/ui/build-console.ts dist/functions/ui/console.js",
    );
    const tsconfig = JSON.parse(read("tsconfig.build.json"));
    expect(tsconfig.compilerOptions.outDir).toBe("dist");
    expect(tsconfig.compilerOptions.rootDir).toBe(".");
    expect(tsconfig.include).toEqual(expect.arrayContaining(["lib", "functions", "cron"]));
  });

  it("starts dist/functions/node.js (api) and dist/cron/probe.js --for 75s (probe)", () => {
    const cmd = (stage: string, keyword: string) =>
      byName
        .get(stage)!
        .instructions.filter((i) => i.keyword === keyword)
        .map((i) => commandWords(i.args))
        .at(-1);
    expect(cmd("api", "CMD")).toEqual(["node", "dist/functions/node.js"]);
    expect(cmd("probe", "ENTRYPOINT")).toEqual(["node", "dist/cron/probe.js"]);
    // Longer than the minute a scheduler waits between runs: consecutive runs overlap.
    expect(parseProbeArgs(cmd("probe", "CMD")!).forMs).toBeGreaterThan(60_000);
    expect(probeBudgetMs(cmd("probe", "CMD")!)).toBe(90_000);
    for (const path of ["dist/functions/node.js", "dist/cron/probe.js"]) {
      expect(existsSync(join(ROOT, sourceOf(path))), sourceOf(path)).toBe(true);
    }
  });

  it("sets only variables the controller reads", () => {
    const env = stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === "ENV")
      .flatMap((i) => [...i.args.matchAll(/(\w+)=/g)].map((m) => m[1]!))
      .filter((name) => name.startsWith("KVC_"));
    expect(env).toEqual(["KVC_HOST", "KVC_PORT"]);
    for (const name of env) expect(KNOWN).toContain(name);
  });
});

// ---------------------------------------------------------------------------------------------

describe("deploy/k8s", () => {
  type Doc = Record<string, Tree>;
  const kustomization = parseYaml(read("deploy/k8s/kustomization.yaml")) as {
    resources: string[];
  };
  const docs: Doc[] = kustomization.resources.flatMap((file) =>
    parseAllDocuments(read(`deploy/k8s/${file}`)).map((d) => d.toJS() as Doc),
  );
  const find = (kind: string, name?: string) =>
    docs.find((d) => d.kind === kind && (name === undefined || d.metadata.name === name))!;

  it("lists every manifest in the kustomization, and every one parses with apiVersion/kind/name", () => {
    const files = readdirSync(join(ROOT, "deploy/k8s")).filter(
      (f) => f.endsWith(".yaml") && f !== "kustomization.yaml",
    );
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    for (const d of docs) {
      expect(d.apiVersion, JSON.stringify(d.metadata)).toBeTruthy();
      expect(d.kind).toBeTruthy();
      expect(d.metadata?.name).toMatch(/^[a-z0-9-]+$/);
    }
    expect(docs.map((d) => d.kind).sort()).toEqual([
      "ConfigMap",
      "CronJob",
      "Deployment",
      "PodDisruptionBudget",
      "Secret",
      "Secret",
      "Service",
    ]);
  });

  it("configures the pods only with variables lib/config reads; secrets come as files", () => {
    const configMap = find("ConfigMap");
    const secrets = docs.filter((d) => d.kind === "Secret");
    const secret = find("Secret", "kvrocks-controller-secrets");
    for (const key of Object.keys(configMap.data)) expect(KNOWN, key).toContain(key);
    // Non-secret settings are valid for lib/config as they stand.
    expect(() => loadConfig(undefined, configMap.data)).not.toThrow();
    // No secret in the environment: each is a *_FILE naming a key of the mounted Secret.
    expect(Object.keys(configMap.data)).not.toContain("KVC_API_TOKENS");
    expect(Object.keys(configMap.data)).not.toContain("KVC_ETCD_PASSWORD");
    const files = Object.entries(configMap.data).filter(([k]) => k.endsWith("_FILE"));
    expect(files.map(([k]) => k)).toEqual(
      expect.arrayContaining(["KVC_API_TOKENS_FILE", "KVC_ETCD_PASSWORD_FILE"]),
    );
    const pods = [
      find("Deployment").spec.template.spec,
      find("CronJob").spec.jobTemplate.spec.template.spec,
    ];
    for (const pod of pods) {
      const volume = pod.volumes.find((v: Tree) => v.secret?.secretName === secret.metadata.name);
      const tls = pod.volumes.find(
        (v: Tree) => v.secret?.secretName === "kvrocks-controller-etcd-tls",
      );
      expect(tls.secret.optional).toBe(true);
      expect(secrets.map((s) => s.metadata.name)).toContain(tls.secret.secretName);
      for (const c of pod.containers) {
        expect(c.envFrom).toEqual([{ configMapRef: { name: configMap.metadata.name } }]);
        const mount = c.volumeMounts.find((m: Tree) => m.name === volume.name);
        expect(mount.readOnly).toBe(true);
        for (const [key, path] of files) {
          expect(String(path).startsWith(`${mount.mountPath}/`), key).toBe(true);
          expect(Object.keys(secret.stringData), key).toContain(
            String(path).slice(mount.mountPath.length + 1),
          );
        }
        expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
      }
      // The files are root-owned 0440; the pod's group must be theirs to read them.
      expect(pod.securityContext.fsGroup).toBe(pod.securityContext.runAsGroup);
      expect(pod.securityContext.runAsNonRoot).toBe(true);
    }
  });

  it("runs 2+ API replicas behind a Service that selects them on the configured port", () => {
    const deployment = find("Deployment");
    const service = find("Service");
    const pod = deployment.spec.template;
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(deployment.spec.selector.matchLabels).toEqual(
      expect.objectContaining(service.spec.selector),
    );
    for (const [k, v] of Object.entries(deployment.spec.selector.matchLabels)) {
      expect(pod.metadata.labels[k]).toBe(v);
    }
    const container = pod.spec.containers[0];
    expect(container.command).toEqual(["node", "dist/functions/node.js"]);
    const port = container.ports.find(
      (p: { name: string }) => p.name === service.spec.ports[0].targetPort,
    );
    expect(port.containerPort).toBe(Number(find("ConfigMap").data.KVC_PORT));
    expect(find("ConfigMap").data.KVC_HOST).toBe("0.0.0.0");
    expect(container.readinessProbe.httpGet.port).toBe(port.name);
    expect(container.livenessProbe.httpGet.port).toBe(port.name);
    const pdb = find("PodDisruptionBudget");
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(pdb.spec.minAvailable).toBeLessThan(deployment.spec.replicas);
  });

  it("schedules the probe every minute for 75 s, so runs overlap, killed only after its own budget", () => {
    const cron = find("CronJob");
    expect(cron.spec.schedule).toBe("* * * * *");
    // The next run starts while this one still probes: never a minute with no probe.
    expect(cron.spec.concurrencyPolicy).toBe("Allow");
    expect(cron.spec.startingDeadlineSeconds).toBeGreaterThan(0);
    expect(cron.spec.startingDeadlineSeconds).toBeLessThan(60);
    const job = cron.spec.jobTemplate.spec;
    const container = job.template.spec.containers[0];
    expect(container.command).toEqual(["node", "dist/cron/probe.js"]);
    expect(container.args).toEqual(["--for", "75s", "--every", "1s"]);
    expect(parseProbeArgs(container.args).forMs).toBeGreaterThan(60_000);
    const timeout = Number(find("ConfigMap").data.KVC_PROBE_TIMEOUT_MS);
    expect(job.activeDeadlineSeconds * 1000).toBeGreaterThan(
      probeBudgetMs(container.args, timeout),
    );
    expect(job.template.spec.restartPolicy).toBe("Never");
  });

  it("renders with kubectl kustomize", async (ctx) => {
    const kubectl = requireTool(ctx, TOOLS.kubectl);
    const out = await exec(kubectl, ["kustomize", "deploy/k8s"], { timeoutMs: 20_000 });
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    const rendered = parseAllDocuments(out.stdout).map((d) => d.toJS() as Doc);
    expect(rendered).toHaveLength(docs.length);
    for (const d of rendered) {
      expect(d.metadata.labels?.["app.kubernetes.io/part-of"]).toBe("kvrocks-controller");
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe("deploy/systemd", () => {
  type Unit = Record<string, Record<string, string[]>>;
  function parseUnit(text: string): Unit {
    const unit: Unit = {};
    let section = "";
    for (const raw of text.split("\n")) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
      const head = /^\[(.+)\]$/.exec(line);
      if (head) {
        section = head[1]!;
        unit[section] ??= {};
        continue;
      }
      const at = line.indexOf("=");
      const key = line.slice(0, at).trim();
      const values = unit[section]![key] ?? [];
      values.push(line.slice(at + 1).trim());
      unit[section]![key] = values;
    }
    return unit;
  }
  const dir = "deploy/systemd";
  const api = parseUnit(read(`${dir}/kvrocks-controller.service`));
  const probe = parseUnit(read(`${dir}/kvrocks-controller-probe.service`));
  const INSTALL_DIR = "/opt/kvrocks-controller/";

  it("starts the built entry points of an install in /opt/kvrocks-controller", () => {
    const [apiNode, apiScript, ...apiArgs] = api.Service!.ExecStart![0]!.split(/\s+/);
    const [probeNode, probeScript, ...probeArgs] = probe.Service!.ExecStart![0]!.split(/\s+/);
    expect([apiNode, probeNode]).toEqual(["/usr/bin/node", "/usr/bin/node"]);
    expect(apiScript).toBe(`${INSTALL_DIR}dist/functions/node.js`);
    expect(apiArgs).toEqual([]);
    expect(probeScript).toBe(`${INSTALL_DIR}dist/cron/scheduler.js`);
    for (const script of [apiScript!, probeScript!]) {
      expect(existsSync(join(ROOT, sourceOf(script.slice(INSTALL_DIR.length))))).toBe(true);
    }
    expect(probeArgs).toEqual([]);
    for (const unit of [api, probe]) {
      expect(unit.Service!.EnvironmentFile).toEqual(["/etc/kvrocks-controller/env"]);
      expect(unit.Service!.DynamicUser).toEqual(["yes"]);
    }
  });

  it("passes secrets as credentials, read through KVC_*_FILE", () => {
    for (const unit of [api, probe]) {
      const credentials = unit.Service!.LoadCredential!.map((c) => c.split(":")[0]);
      expect(credentials).toEqual(expect.arrayContaining(["api-tokens", "etcd-password"]));
      const fileVars = unit.Service!.Environment!.filter((e) => /^KVC_\w+_FILE=/.test(e));
      expect(fileVars.length).toBe(credentials.length);
      for (const assignment of fileVars) {
        const [name, value] = assignment.split("=") as [string, string];
        expect(KNOWN, name).toContain(name);
        expect(credentials).toContain(value.replace(/^%d\//, ""));
      }
    }
    expect(read(`${dir}/env.example`)).not.toMatch(/^KVC_(API|READONLY)_TOKENS=/m);
  });

  it("runs the probe as one long-running invocation, restarted whenever it exits", () => {
    expect(probe.Service!.Type).toEqual(["simple"]);
    expect(probe.Service!.Restart).toEqual(["always"]);
    expect(probe.Service!.KillSignal).toEqual(["SIGTERM"]);
    expect(probe.Install!.WantedBy).toEqual(["multi-user.target"]);
    expect(readdirSync(join(ROOT, dir)).filter((f) => f.endsWith(".timer"))).toEqual([]);
  });

  it("ships an env file with variables lib/config reads", () => {
    const keys = read(`${dir}/env.example`)
      .split("\n")
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => l.slice(0, l.indexOf("=")));
    expect(keys.length).toBeGreaterThan(3);
    for (const key of keys) expect(KNOWN, key).toContain(key);
  });

  it("passes systemd-analyze verify", async (ctx) => {
    const analyze = requireTool(ctx, TOOLS.systemdAnalyze);
    // The units name /usr/bin/node; verify checks that it exists, so point it at this node.
    const tmp = mkdtempSync(join(tmpdir(), "kvc-systemd-"));
    try {
      cpSync(join(ROOT, dir), tmp, { recursive: true });
      for (const f of readdirSync(tmp).filter((f) => f.endsWith(".service"))) {
        writeFileSync(
          join(tmp, f),
          read(`${dir}/${f}`).replaceAll("/usr/bin/node", process.execPath),
        );
      }
      const units = readdirSync(tmp)
        .filter((f) => /\.(service|timer)$/.test(f))
        .map((f) => join(tmp, f));
      expect(units).toHaveLength(2);
      const out = await exec(analyze, ["verify", ...units], { timeoutMs: 20_000 });
      expect(`${out.stdout}${out.stderr}`.trim()).toBe("");
      expect(out.code).toBe(0);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe("deploy/aws/template.yaml (SAM)", () => {
  const INTRINSICS = [
    ...["Ref", "Sub", "If", "Not", "Equals", "Join", "GetAtt", "Select", "Split", "Or", "And"],
  ];
  const tags: Tags = INTRINSICS.flatMap((f) => {
    const key = f === "Ref" ? "Ref" : `Fn::${f}`;
    return [
      { tag: `!${f}`, resolve: (value: string) => ({ [key]: value }) },
      {
        tag: `!${f}`,
        collection: "seq" as const,
        resolve: (seq: { toJSON(): unknown }) => ({ [key]: seq.toJSON() }),
      },
    ];
  }) as unknown as Tags;
  const template = parseYaml(read("deploy/aws/template.yaml"), { customTags: tags }) as Record<
    string,
    Tree
  >;
  const fn = (name: string) => template.Resources[name].Properties;

  it("is a SAM template with the etcd endpoints and tokens as parameters", () => {
    expect(template.Transform).toBe("AWS::Serverless-2016-10-31");
    const params = template.Parameters;
    expect(Object.keys(params)).toEqual(
      expect.arrayContaining(["EtcdEndpoints", "ApiTokens", "EtcdPassword", "ReadonlyTokens"]),
    );
    for (const secret of ["ApiTokens", "EtcdPassword", "ReadonlyTokens", "NamespaceTokens"]) {
      expect(params[secret].NoEcho).toBe(true);
    }
  });

  it("sets only variables lib/config reads, each from a parameter", () => {
    const vars = template.Globals.Function.Environment.Variables as Record<string, unknown>;
    for (const [name, value] of Object.entries(vars)) {
      expect(KNOWN, name).toContain(name);
      expect(value).toEqual({ Ref: expect.any(String) });
      expect(template.Parameters).toHaveProperty((value as { Ref: string }).Ref);
    }
  });

  it("wires the HTTP API to the API bundle and a schedule to the probe bundle", () => {
    const bundleDir = (name: keyof typeof HANDLERS) => resolve(ROOT, "bundle", name);
    const templateDir = join(ROOT, "deploy/aws");
    expect(resolve(templateDir, fn("ApiFunction").CodeUri)).toBe(bundleDir("api"));
    expect(resolve(templateDir, fn("ProbeFunction").CodeUri)).toBe(bundleDir("probe"));
    expect(template.Globals.Function.Handler).toBe("index.handler");
    expect(template.Globals.Function.Runtime).toMatch(/^nodejs(2[0-9])\.x$/);
    const apiEvents = Object.values(fn("ApiFunction").Events) as {
      Type: string;
      Properties: Tree;
    }[];
    expect(apiEvents.map((e) => [e.Type, e.Properties.Path, e.Properties.Method])).toEqual([
      ["HttpApi", "/", "ANY"],
      ["HttpApi", "/{proxy+}", "ANY"],
    ]);
    const probeEvents = Object.values(fn("ProbeFunction").Events) as {
      Type: string;
      Properties: Tree;
    }[];
    expect(probeEvents.map((e) => e.Type)).toEqual(["Schedule"]);
    expect(probeEvents[0]!.Properties.Schedule).toEqual({ Ref: "ProbeSchedule" });
    expect(template.Parameters.ProbeSchedule.Default).toMatch(/^rate\(1 minute\)$/);
    // Each invocation outlives the minute, so the next starts while it runs; the timeout
    // lets it finish its last round, and two may run at once.
    const runMs = template.Parameters.ProbeRunMs;
    expect(runMs.Default).toBeGreaterThan(60_000);
    expect(fn("ProbeFunction").Timeout * 1000).toBeGreaterThan(runMs.MaxValue + 10 * 1000);
    expect(fn("ProbeFunction").ReservedConcurrentExecutions).toBeGreaterThanOrEqual(2);
    // API Gateway gives a request at most 30 s.
    expect(fn("ApiFunction").Timeout).toBeLessThanOrEqual(29);
  });

  it("refers only to parameters, resources, conditions and pseudo parameters that exist", () => {
    const names = new Set([
      ...Object.keys(template.Parameters),
      ...Object.keys(template.Resources),
      "ServerlessHttpApi", // made by SAM for HttpApi events
    ]);
    const refs: string[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === "object") {
        for (const [k, inner] of Object.entries(v)) {
          if (k === "Ref" && typeof inner === "string") refs.push(inner);
          if (k === "Fn::Sub" && typeof inner === "string") {
            for (const m of inner.matchAll(/\$\{([^}]+)\}/g)) refs.push(m[1]!);
          }
          walk(inner);
        }
      }
    };
    walk(template.Resources);
    walk(template.Globals);
    walk(template.Outputs);
    walk(template.Conditions);
    walk(template.Rules);
    expect(refs.length).toBeGreaterThan(5);
    for (const ref of refs) {
      if (ref.startsWith("AWS::")) continue;
      expect(names, ref).toContain(ref);
    }
    expect(template.Globals.Function.VpcConfig["Fn::If"][0]).toBe(
      Object.keys(template.Conditions)[0],
    );
  });

  it("refuses to deploy an empty token list unless AllowOpenApi is true (a CloudFormation Rule)", () => {
    type Rule = { RuleCondition?: Tree; Assertions: { Assert: Tree; AssertDescription: string }[] };
    const rules = (template.Rules ?? {}) as Record<string, Rule>;
    // What CloudFormation does with the rule functions the template uses; any other is a failure.
    const evaluate = (expr: Tree, params: Record<string, string>): unknown => {
      if (typeof expr !== "object" || expr === null) return expr;
      const [fn, arg] = Object.entries(expr)[0] as [string, Tree];
      switch (fn) {
        case "Ref":
          return params[arg as string];
        case "Fn::Equals":
          return evaluate(arg[0], params) === evaluate(arg[1], params);
        case "Fn::Not":
          return !evaluate(arg[0], params);
        case "Fn::Or":
          return (arg as Tree[]).some((a) => evaluate(a, params) === true);
        case "Fn::And":
          return (arg as Tree[]).every((a) => evaluate(a, params) === true);
        default:
          throw new Error(`${fn} is not evaluated here`);
      }
    };
    const deploys = (given: Record<string, string>) => {
      const params: Record<string, string> = { ...given };
      for (const [name, p] of Object.entries(template.Parameters as Record<string, Tree>)) {
        if (params[name] === undefined && p.Default !== undefined) params[name] = String(p.Default);
      }
      return Object.values(rules).every(
        (rule) =>
          (rule.RuleCondition !== undefined && evaluate(rule.RuleCondition, params) !== true) ||
          rule.Assertions.every((a) => evaluate(a.Assert, params) === true),
      );
    };
    expect(template.Parameters.AllowOpenApi).toMatchObject({
      Default: "false",
      AllowedValues: ["false", "true"],
    });
    expect(deploys({ ApiTokens: "" })).toBe(false);
    expect(deploys({ ApiTokens: "", AllowOpenApi: "false" })).toBe(false);
    expect(deploys({ ApiTokens: "", AllowOpenApi: "true" })).toBe(true);
    expect(deploys({ ApiTokens: "ops:secret" })).toBe(true);
    expect(deploys({ ApiTokens: "", ReadonlyTokens: "dash:secret" })).toBe(true);
    expect(deploys({ ApiTokens: "", NamespaceTokens: "team=secret" })).toBe(true);
    const said = Object.values(rules).flatMap((r) => r.Assertions.map((a) => a.AssertDescription));
    expect(said.join(" ")).toMatch(/AllowOpenApi=true/);
  });

  it("passes cfn-lint", async (ctx) => {
    const lint = requireTool(ctx, TOOLS.cfnLint);
    const out = await exec(lint, ["deploy/aws/template.yaml"], { timeoutMs: 60_000 });
    expect(`${out.stdout}${out.stderr}`.trim()).toBe("");
    expect(out.code).toBe(0);
  });
});
