// Each fault knob, seen from a client.

import { connect } from "node:net";
import type { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { type SimNode, startSimNode, stopAll } from "../support/kvrocks-sim/server.js";
import { call, client, errorOf, raw, resp } from "./helpers.js";

const opened: Redis[] = [];
async function node(): Promise<{ n: SimNode; c: Redis }> {
  const n = await startSimNode();
  const c = await client(n);
  opened.push(c);
  return { n, c };
}

afterEach(async () => {
  for (const c of opened.splice(0)) c.disconnect();
  await stopAll();
});

describe("fault knobs", () => {
  it("hang: connections are accepted and nothing is answered until the knob is cleared", async () => {
    const { n, c } = await node();
    n.setFault({ hang: true });
    const pending = call(c, "PING");
    const silent = await raw(n, [resp("PING")], 200);
    expect(silent).toEqual({ data: "", closed: false });
    n.setFault({ hang: false });
    expect(await pending).toBe("PONG");
  });

  it("hang: a client with a command timeout gives up", async () => {
    const { n, c } = await node();
    n.setFault({ hang: true });
    await expect(call(c, "CLUSTER", "INFO")).rejects.toThrow(/timed out/i);
  });

  it("delayMs: every reply comes late, in order", async () => {
    const { n, c } = await node();
    n.setFault({ delayMs: 120 });
    const t0 = Date.now();
    const replies = await Promise.all([call(c, "PING"), call(c, "ECHO", "x")]);
    expect(replies).toEqual(["PONG", "x"]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(230);
  });

  it("loading: LOADING for most commands; INFO, AUTH and HELLO still answer", async () => {
    const { n, c } = await node();
    n.setFault({ loading: true });
    const loading = "LOADING kvrocks is restoring the db from backup";
    expect(await errorOf(call(c, "CLUSTER", "INFO"))).toBe(loading);
    expect(await errorOf(call(c, "PING"))).toBe(loading);
    expect(await errorOf(call(c, "CLUSTERX", "VERSION"))).toBe(loading);
    const info = (await call(c, "INFO")) as string;
    expect(info).toContain("# Persistence\r\nloading:1\r\n");
    expect(info).not.toContain("# Replication");
    expect(info).not.toContain("# Keyspace");
    expect(await call(c, "HELLO")).toContain("proto");
    expect(await errorOf(call(c, "AUTH", "x"))).toBe(
      "ERR Client sent AUTH, but no password is set",
    );
    n.setFault({ loading: false });
    expect(await call(c, "PING")).toBe("PONG");
  });

  it("garbage: the reply bytes are not RESP", async () => {
    const { n, c } = await node();
    n.setFault({ garbage: true });
    const { data } = await raw(n, [resp("PING")]);
    expect(data).toBe("?\x00\xffthis is not RESP\n");
    await expect(call(c, "PING")).rejects.toThrow();
  });

  it("reset: the connection is reset as soon as it sends anything", async () => {
    const { n, c } = await node();
    n.setFault({ reset: true });
    const r = await raw(n, [resp("PING")]);
    expect(r).toEqual({ data: "", closed: true });
    await expect(call(c, "PING")).rejects.toThrow();
    n.setFault({ reset: false });
    const fresh = await client(n);
    opened.push(fresh);
    expect(await call(fresh, "PING")).toBe("PONG");
  });

  it("stop: clients are cut and new connections refused; start: same port, same data", async () => {
    const { n, c } = await node();
    await call(
      c,
      "CLUSTERX",
      "SETNODES",
      `${"a".repeat(40)} 127.0.0.1 ${n.port} master - 0-16383`,
      3,
    );
    await call(c, "SET", "k", "v");
    const port = n.port;
    await n.stop();
    await expect(call(c, "PING")).rejects.toThrow();
    expect(await connectError(n.port)).toBe("ECONNREFUSED");
    await n.start();
    expect(n.port).toBe(port);
    const c2 = await client(n);
    opened.push(c2);
    expect(await call(c2, "GET", "k")).toBe("v");
    expect(await call(c2, "CLUSTERX", "VERSION")).toBe("3");
    expect(await call(c2, "CLUSTERX", "MYID")).toBe("a".repeat(40));
    expect(await call(c2, "DBSIZE")).toBe(0);
  });
});

function connectError(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.on("connect", () => {
      s.destroy();
      resolve("connected");
    });
    s.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}
