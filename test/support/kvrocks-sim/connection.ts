// One client connection: bytes in, RESP parsed, commands run strictly one after another,
// replies written in order. Fault knobs act here, where a client can observe them.

import type { Socket } from "node:net";
import type { KvrocksNode } from "./node.js";
import { errorReply, type RequestArgs, RespParser } from "./resp.js";
import { newSession, type Session } from "./session.js";

/** Not RESP: no reply type starts with '?' and the line is not even CRLF-terminated. */
const GARBAGE = Buffer.from("?\x00\xffthis is not RESP\n", "latin1");

type Item = { args: RequestArgs } | { protocolError: string };

export class Connection {
  private readonly parser = new RespParser();
  private readonly session: Session = newSession();
  private readonly queue: Item[] = [];
  private pumping = false;
  private closed = false;

  constructor(
    private readonly node: KvrocksNode,
    private readonly socket: Socket,
    private readonly waitWhileHung: () => Promise<void>,
  ) {
    node.stats.connectionsReceived++;
    node.connectedClients++;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("close", () => this.onClose());
    socket.on("error", () => {});
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.node.faults.reset) {
      this.socket.resetAndDestroy();
      return;
    }
    this.node.stats.inBytes += chunk.length;
    const { commands, error } = this.parser.feed(chunk);
    if (error !== null) {
      // Kvrocks drops what it parsed from this read, answers the error and hangs up.
      this.queue.push({ protocolError: error });
    } else {
      for (const args of commands) this.queue.push({ args });
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        await this.waitWhileHung();
        const delay = this.node.faults.delayMs;
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        if (this.closed) return;
        const item = this.queue.shift()!;
        if ("protocolError" in item) {
          this.write(errorReply(`ERR ${item.protocolError}`));
          this.socket.end();
          this.queue.length = 0;
          return;
        }
        const reply = await this.node.execute(this.session, item.args);
        if (this.closed) return;
        this.write(reply);
        if (this.session.closeAfterReply) {
          this.socket.end();
          this.queue.length = 0;
          return;
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private write(reply: Buffer): void {
    const out = this.node.faults.garbage ? GARBAGE : reply;
    this.node.stats.outBytes += out.length;
    this.socket.write(out);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.node.connectedClients > 0) this.node.connectedClients--;
    this.session.onClose?.();
  }
}
