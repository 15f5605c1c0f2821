import { afterEach, describe, expect, it } from "vitest";
import { NodePool } from "../../lib/kvrocks/index.js";
import { type SimNode, startSimNode } from "../support/kvrocks-sim/server.js";

let node: SimNode;
let pool: NodePool;
afterEach(async () => {
  pool.close();
  await node.close();
});

describe("connections kept between probe rounds", () => {
  it("reuse one connection, and a node restarted since is reached on a fresh one, not counted as down", async () => {
    node = await startSimNode();
    pool = new NodePool();
    const version = () => pool.use(node.addr, { timeoutMs: 500 }, (c) => c.version());
    expect(await version()).toBe(-1);
    expect(await version()).toBe(-1);
    await node.stop();
    await node.start();
    expect(await version()).toBe(-1);
  });

  it("never reuse a connection after an error, and report a node that is down", async () => {
    node = await startSimNode();
    pool = new NodePool();
    node.setFault({ hang: true });
    await expect(pool.use(node.addr, { timeoutMs: 200 }, (c) => c.version())).rejects.toThrow(
      /no answer within 200 ms/,
    );
    node.setFault({ hang: false });
    expect(await pool.use(node.addr, { timeoutMs: 500 }, (c) => c.version())).toBe(-1);
    await node.stop();
    await expect(pool.use(node.addr, { timeoutMs: 500 }, (c) => c.version())).rejects.toThrow();
  });
});
