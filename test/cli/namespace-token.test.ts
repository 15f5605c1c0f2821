// kvctl with a namespace token: its own namespace works as with any token; everything else is
// refused with exit 1 and a message naming the namespace the token is limited to.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SimNode } from "../support/kvrocks-sim/server.js";
import { addrs, type Controller, Kvctl, simNodes, startController } from "./harness.js";

let controller: Controller;
let admin: Kvctl;
let team: Kvctl;
let nodes: SimNode[];

beforeAll(async () => {
  controller = await startController({
    label: "cli-nstoken",
    env: { KVC_API_TOKENS: "admin:tok-admin", KVC_NAMESPACE_TOKENS: "team=tok-team" },
  });
  admin = new Kvctl({ KVCTL_HOST: controller.url, KVCTL_TOKEN: "tok-admin" });
  team = new Kvctl({ KVCTL_HOST: controller.url, KVCTL_TOKEN: "tok-team" });
  nodes = await simNodes(2);
  await admin.ok(["create", "namespace", "team"]);
  await admin.ok(["create", "namespace", "other"]);
}, 60_000);

afterAll(async () => {
  await controller?.close();
  await Promise.all((nodes ?? []).map((n) => n.close()));
  admin?.cleanup();
  team?.cleanup();
});

describe("kvctl with a namespace token", () => {
  it("lists only its namespace and manages clusters there", async () => {
    expect(await team.ok(["list", "namespaces"])).toBe("team\n");
    await team.ok(["create", "cluster", "c", "-n", "team", "--nodes", addrs(nodes), "-r", "1"]);
    expect(await team.ok(["list", "clusters", "-n", "team"])).toMatch(/\bc\b/);
  });

  it("says which namespace the token is limited to when refused", async () => {
    const elsewhere = await team.run(["list", "clusters", "-n", "other"]);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toMatch(
      /^error: token "team-token-[0-9a-f]{8}" is limited to namespace team$/m,
    );
    const create = await team.run(["create", "namespace", "mine"]);
    expect(create.code).toBe(1);
    expect(create.stderr).toMatch(
      /limited to namespace team and may not create or delete namespaces/,
    );
  });
});
