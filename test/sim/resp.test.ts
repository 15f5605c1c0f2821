import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  arrayReply,
  bulkString,
  errorReply,
  integerReply,
  nullBulk,
  RespParser,
  simpleString,
} from "../support/kvrocks-sim/resp.js";
import { type SimNode, startSimNode, stopAll } from "../support/kvrocks-sim/server.js";
import { raw, resp } from "./helpers.js";

const strs = (cmds: Buffer[][]) => cmds.map((c) => c.map((b) => b.toString()));

describe("RespParser", () => {
  it("parses several pipelined commands from one packet", () => {
    const p = new RespParser();
    const r = p.feed(Buffer.from(resp("SET", "k", "v") + resp("GET", "k")));
    expect(r.error).toBeNull();
    expect(strs(r.commands)).toEqual([
      ["SET", "k", "v"],
      ["GET", "k"],
    ]);
  });

  it("waits for the rest of a command split at every byte", () => {
    const p = new RespParser();
    const bytes = Buffer.from(resp("SET", "key", "a\r\nb") + resp("PING"));
    const seen: string[][] = [];
    for (const b of bytes) seen.push(...strs(p.feed(Buffer.from([b])).commands));
    expect(seen).toEqual([["SET", "key", "a\r\nb"], ["PING"]]);
  });

  it("parses inline commands split on spaces and tabs, CRLF or LF", () => {
    const p = new RespParser();
    const r = p.feed(Buffer.from("PING\r\nset  k\tv\nGET k\r\n\r\n"));
    expect(strs(r.commands)).toEqual([["PING"], ["set", "k", "v"], ["GET", "k"]]);
  });

  it("keeps binary bulk data intact", () => {
    const p = new RespParser();
    const payload = Buffer.from([0, 255, 13, 10, 1]);
    const r = p.feed(
      Buffer.concat([Buffer.from("*2\r\n$3\r\nGET\r\n$5\r\n"), payload, Buffer.from("\r\n")]),
    );
    expect(r.commands[0]![1]!.equals(payload)).toBe(true);
  });

  it("skips empty and negative multibulk headers", () => {
    const p = new RespParser();
    expect(strs(p.feed(Buffer.from(`*0\r\n*-1\r\n${resp("PING")}`)).commands)).toEqual([["PING"]]);
  });

  it.each([
    ["*x\r\n", "Protocol error: invalid multibulk length"],
    ["*1\n", "Protocol error: invalid multibulk length"],
    ["*1\r\n+PING\r\n", "Protocol error: expected '$'"],
    ["*1\r\n$-1\r\n", "Protocol error: invalid bulk length"],
    ["*1\r\n$abc\r\n", "Protocol error: invalid bulk length"],
  ])("reports %j as %s", (input, message) => {
    expect(new RespParser().feed(Buffer.from(input)).error).toBe(message);
  });
});

describe("RESP encoders", () => {
  it("encode every reply type byte for byte", () => {
    expect(simpleString("OK").toString()).toBe("+OK\r\n");
    expect(errorReply("ERR x").toString()).toBe("-ERR x\r\n");
    expect(integerReply(-1).toString()).toBe(":-1\r\n");
    expect(bulkString("héllo").toString()).toBe("$6\r\nhéllo\r\n");
    expect(nullBulk().toString()).toBe("$-1\r\n");
    expect(arrayReply([integerReply(1), bulkString("a")]).toString()).toBe(
      "*2\r\n:1\r\n$1\r\na\r\n",
    );
    expect(arrayReply(null).toString()).toBe("*-1\r\n");
  });
});

describe("wire behaviour", () => {
  let node: SimNode;
  beforeAll(async () => {
    node = await startSimNode();
  });
  afterAll(stopAll);

  it("answers pipelined commands in order", async () => {
    const { data } = await raw(node, [resp("PING") + resp("ECHO", "x") + "PING\r\n"]);
    expect(data).toBe("+PONG\r\n$1\r\nx\r\n+PONG\r\n");
  });

  it("answers a command that arrives in fragments", async () => {
    const { data } = await raw(node, ["*2\r\n$4\r\nEC", "HO\r\n$2\r\nh", "i\r\n"]);
    expect(data).toBe("$2\r\nhi\r\n");
  });

  it("answers a protocol error and closes the connection", async () => {
    const { data, closed } = await raw(node, ["*1\r\n+PING\r\n"]);
    expect(data).toBe("-ERR Protocol error: expected '$'\r\n");
    expect(closed).toBe(true);
  });

  it("closes after QUIT's OK", async () => {
    const { data, closed } = await raw(node, [resp("QUIT") + resp("PING")]);
    expect(data).toBe("+OK\r\n");
    expect(closed).toBe(true);
  });

  it("names an unknown command and its first arguments like Kvrocks", async () => {
    const { data } = await raw(node, [resp("FOO", "a", "b"), resp("Bar")]);
    expect(data).toBe(
      "-ERR unknown command `FOO`, with args beginning with: `a`, `b`\r\n" +
        "-ERR unknown command `Bar`, with args beginning with: \r\n",
    );
  });

  it("checks arity before anything the command does", async () => {
    const { data } = await raw(node, [resp("GET"), resp("get", "a", "b")]);
    expect(data).toBe("-ERR wrong number of arguments\r\n-ERR wrong number of arguments\r\n");
  });
});
