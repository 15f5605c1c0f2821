// The node harness itself: the same behaviour from a real Kvrocks process and the simulator.
import { afterAll, expect, it } from "vitest";
import { attachNodeLogsOnFailure, closeTestNodes, startTestNodes } from "./nodes.js";

afterAll(closeTestNodes);

it("a node keeps its data across kill and restart, and answers nothing while paused", async () => {
  const [node] = await startTestNodes(1, { password: "pw" });
  attachNodeLogsOnFailure([node!]);
  expect(await node!.call("PING")).toBe("PONG");
  const id = "a".repeat(40);
  await node!.call("CLUSTERX", "SETNODEID", id);
  await node!.call("CLUSTERX", "SETNODES", `${id} 127.0.0.1 ${node!.port} master - 0-16383`, 1);
  expect(await node!.call("SET", "k", "v")).toBe("OK");

  await node!.pause();
  await expect(node!.call("PING")).rejects.toThrow();
  await node!.resume();
  expect(await node!.call("PING")).toBe("PONG");

  await node!.kill();
  expect(node!.running).toBe(false);
  await expect(node!.call("PING")).rejects.toThrow();
  await node!.restart();
  expect(node!.running).toBe(true);
  expect(await node!.call("GET", "k")).toBe("v");
  expect(String(await node!.call("CLUSTERX", "VERSION"))).toBe("1");
  if (node!.real) expect(node!.log()).toMatch(/kvrocks version/);
}, 60_000);
