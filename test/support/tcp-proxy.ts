// A TCP forwarder the test controls, in front of one node: `cut()` partitions whoever dials
// through it (open connections are dropped, new ones accepted and never answered, as behind a
// firewall that drops packets); `heal()` forwards again. The node itself stays up.
import net from "node:net";

export class TcpProxy {
  private cutOff = false;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly addr: string,
  ) {}

  static async start(target: string): Promise<TcpProxy> {
    const [host, port] = splitAddr(target);
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const { port: own } = server.address() as net.AddressInfo;
    const proxy = new TcpProxy(server, `127.0.0.1:${own}`);
    server.on("connection", (client) => proxy.accept(client, host, port));
    return proxy;
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  }

  private accept(client: net.Socket, host: string, port: number): void {
    this.track(client);
    // Cut off: the connection is open and nothing ever comes back.
    if (this.cutOff) return;
    const upstream = net.connect(port, host);
    this.track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  }

  /** Drops every open connection; new ones hang until `heal()` or `close()`. */
  cut(): void {
    this.cutOff = true;
    for (const s of this.sockets) s.destroy();
  }

  heal(): void {
    this.cutOff = false;
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function splitAddr(addr: string): [string, number] {
  const at = addr.lastIndexOf(":");
  return [addr.slice(0, at), Number(addr.slice(at + 1))];
}
