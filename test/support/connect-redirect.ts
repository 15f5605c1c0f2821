// Test-only, loaded into a child process with `--import`: every TCP connection that process
// opens to an address named in KVC_TEST_CONNECT_REDIRECT ("from=to,from=to") goes to `to`
// instead, so one observer sees a node through a proxy the test controls while the cluster's
// topology keeps the node's real address. Nothing in lib/ knows.
import net from "node:net";

const redirects = new Map(
  (process.env.KVC_TEST_CONNECT_REDIRECT ?? "")
    .split(",")
    .filter((pair) => pair.includes("="))
    .map((pair) => pair.split("=") as [string, string]),
);

if (redirects.size > 0) {
  const original = net.createConnection;
  const redirected = (...args: unknown[]) => {
    const [options] = args;
    if (options && typeof options === "object" && "port" in options) {
      const o = options as net.TcpNetConnectOpts;
      const to = redirects.get(`${o.host ?? "localhost"}:${o.port}`);
      if (to) {
        const at = to.lastIndexOf(":");
        args[0] = { ...o, host: to.slice(0, at), port: Number(to.slice(at + 1)) };
      }
    }
    return (original as (...a: unknown[]) => net.Socket).apply(net, args);
  };
  net.createConnection = redirected as typeof net.createConnection;
  net.connect = redirected as typeof net.connect;
}
