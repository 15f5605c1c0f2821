// `kvctl get health` and `kvctl list failovers` with an observer quorum (KVC_PROBE_QUORUM=2):
// a dead master judged down by one observer shows as waiting for the quorum, with its votes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SimNode } from "../support/kvrocks-sim/server.js";
import {
  addrs,
  apiGet,
  type Controller,
  Kvctl,
  probeLoop,
  simNodes,
  startController,
  waitFor,
} from "./harness.js";

let controller: Controller;
let kvctl: Kvctl;
let nodes: SimNode[];

beforeAll(async () => {
  controller = await startController({
    label: "cli-quorum",
    env: {
      KVC_PROBE_QUORUM: "2",
      KVC_PROBE_FAILURES: "2",
      KVC_PROBE_DOWN_AFTER_MS: "300",
      KVC_PROBE_OBSERVER: "zone-a",
    },
  });
  kvctl = new Kvctl({ KVCTL_HOST: controller.url });
  nodes = await simNodes(4);
  await kvctl.ok(["create", "namespace", "nq"]);
  await kvctl.ok(["create", "cluster", "cq", "-n", "nq", "--nodes", addrs(nodes), "-r", "2"]);
  await kvctl.ok(["use", "-n", "nq", "-c", "cq"]);
});
afterAll(async () => {
  await controller?.close();
  await Promise.all(nodes?.map((n) => n.close()) ?? []);
  kvctl?.cleanup();
});

describe("health with an observer quorum", () => {
  it("get health shows a master waiting for the quorum, 1 of 2, and who judged it down", async () => {
    const rounds = probeLoop(controller);
    try {
      await waitFor(async () => {
        const health = await apiGet(controller, "/namespaces/nq/clusters/cq/health");
        return health.nodes.every((n: { probed: boolean }) => n.probed);
      });
      await nodes[0]!.stop();
      await waitFor(
        async () =>
          (await apiGet(controller, "/namespaces/nq/clusters/cq/health")).quorum.length === 1,
        30_000,
      );
      const text = await kvctl.ok(["get", "health"]);
      expect(text).toMatch(
        /^shard 0: no failover: waiting for quorum: 1 of 2 observers judged the master down \(zone-a\)$/m,
      );
      const json = await kvctl.json(["get", "health"]);
      expect(json.quorum).toEqual([
        expect.objectContaining({
          shard: 0,
          needed: 2,
          down: ["zone-a"],
          up: [],
          addr: nodes[0]!.addr,
        }),
      ]);
      expect(await kvctl.ok(["list", "failovers"])).toBe("No failovers recorded.\n");
    } finally {
      await rounds.stop();
    }
  }, 60_000);
});
