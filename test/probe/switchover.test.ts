// Planned switchover of a live master loses no acknowledged write: the old master takes the
// new topology first, the new master catches up, then everyone else is told. Runs on real
// Kvrocks when KVROCKS_BIN is set (npm run test:kvrocks), on the simulator otherwise.
import net from "node:net";
import { Redis } from "ioredis";
import { afterEach, beforeEach, expect, it } from "vitest";
import { masterOf } from "../../lib/model/index.js";
import { eventually, type Harness, startHarness } from "../support/harness.js";
import { type TestNode, usingRealKvrocks } from "../support/nodes.js";
import { TcpProxy } from "../support/tcp-proxy.js";
import { round } from "./helpers.js";

let h: Harness;
let nodes: TestNode[];
const base = "/api/v1/namespaces/s/clusters/c";

beforeEach(async () => {
  h = await startHarness({ label: "switch", env: { KVC_SWITCHOVER_CATCHUP_MS: "3000" } });
  nodes = await h.startTestNodes(2);
  await h.createCluster("s", "c", nodes, 2);
  await linkedUp();
}, 60_000);
afterEach(async () => h.close());

const replicaOf = async () => {
  const cluster = await h.cluster("s", "c");
  const addr = cluster.shards[0]!.nodes.find((n) => n.role === "slave")!.addr;
  return nodes.find((n) => n.addr === addr)!;
};

async function linkedUp() {
  const replica = await replicaOf();
  await eventually(
    async () => /master_link_status:up/.test(String(await replica.call("INFO", "replication"))),
    30_000,
    50,
  );
}

/** Writes unique keys to whoever answers for them, following MOVED; keeps the acknowledged ones. */
function startWriter(first: string) {
  const clients = new Map<string, Redis>();
  const client = (addr: string) => {
    let c = clients.get(addr);
    if (!c) {
      const at = addr.lastIndexOf(":");
      c = new Redis({
        host: addr.slice(0, at),
        port: Number(addr.slice(at + 1)),
        protocol: 2,
        maxRetriesPerRequest: 0,
        enableReadyCheck: false,
      });
      c.on("error", () => {});
      clients.set(addr, c);
    }
    return c;
  };
  const acked: string[] = [];
  let target = first;
  let stop = false;
  let errors = 0;
  const done = (async () => {
    for (let i = 0; !stop; ) {
      const key = `w${i}`;
      try {
        if ((await client(target).call("SET", key, String(i))) === "OK") {
          acked.push(key);
          i++;
        }
      } catch (err) {
        const moved = /MOVED \d+ (\S+)/.exec(String(err));
        if (moved) target = moved[1]!;
        else {
          errors++;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    }
  })();
  return {
    acked,
    errors: () => errors,
    async stop() {
      stop = true;
      await done;
      for (const c of clients.values()) c.disconnect();
    },
  };
}

it("switches one shard over 10 times under writes and loses no acknowledged write", async () => {
  const start = await h.cluster("s", "c");
  const writer = startWriter(masterOf(start.shards[0]!)!.addr);
  await eventually(() => writer.acked.length > 100, 30_000);
  let refused = 0;
  for (let i = 0; i < 10; i++) {
    const res = await h.request("POST", `${base}/shards/0/failover`, {});
    if (res.status === 409) {
      // Only the documented refusal: the new master did not catch up in time, undone.
      expect(res.body.error.message).toMatch(/undone: .* did not reach the old master's sequence/);
      refused++;
    } else expect(res.status, res.text).toBe(200);
    await linkedUp();
    const before = writer.acked.length;
    await eventually(() => writer.acked.length > before + 50, 30_000);
  }
  await writer.stop();
  const final = await h.cluster("s", "c");
  const master = nodes.find((n) => n.addr === masterOf(final.shards[0]!)!.addr)!;
  let lost = 0;
  for (const key of writer.acked) if ((await master.call("GET", key)) === null) lost++;
  console.log(
    `switchover: ${writer.acked.length} acknowledged writes, ${lost} lost, ${refused} of 10 undone, ${writer.errors()} client errors`,
  );
  expect(lost).toBe(0);
  // Switchovers that completed, not refusals, are what can lose writes: most must complete
  // (the replica is linked up and the writer is one connection; a 3 s catch-up suffices).
  expect(10 - refused).toBeGreaterThanOrEqual(8);
}, 300_000);

// Simulator only: it needs the chosen replica behind the old master's final sequence at the
// moment it is asked, and a real one cannot be held there. Its replication streams every write
// within milliseconds; stopping it (SIGSTOP) before the request makes the survey refuse it
// (400, no replica to promote) instead of reaching the catch-up, and stopping it after the
// etcd commit races the controller's next two node calls. The simulator's replica is set one
// write behind and its master sends nothing more. The undo itself runs on real nodes in the
// last test of this file (the new master cut off at the step that matters).
it.skipIf(usingRealKvrocks())(
  "is undone with 409 when the new master does not catch up in time",
  async () => {
    const start = await h.cluster("s", "c");
    const master = nodes.find((n) => n.addr === masterOf(start.shards[0]!)!.addr)!;
    for (let i = 0; i < 10; i++) await master.call("SET", `k${i}`, "v");
    const replica = await replicaOf();
    // The replica is one write behind and its master will send it nothing more.
    replica.sim!.kvrocks.store.sequence -= 1;

    const res = await h.request("POST", `${base}/shards/0/failover`, {});
    expect(res.status, res.text).toBe(409);
    expect(res.body.error.message).toMatch(/undone: .* did not reach the old master's sequence/);
    const after = await h.cluster("s", "c");
    expect(after.version).toBe(start.version + 2);
    expect(masterOf(after.shards[0]!)!.addr).toBe(master.addr);
    // Every node holds the restored topology: the old master serves writes again.
    await eventually(async () => (await master.call("SET", "after", "1")) === "OK", 10_000);
    expect(Number(await replica.call("CLUSTERX", "VERSION"))).toBe(after.version);
  },
  60_000,
);

// Simulator only, for the same reason: the replica must stay behind while the round runs.
it.skipIf(usingRealKvrocks())(
  "a probe round during the switchover does not promote the new master before it catches up",
  async () => {
    const start = await h.cluster("s", "c");
    const master = nodes.find((n) => n.addr === masterOf(start.shards[0]!)!.addr)!;
    for (let i = 0; i < 10; i++) await master.call("SET", `k${i}`, "v");
    const replica = await replicaOf();
    replica.sim!.kvrocks.store.sequence -= 1;

    const pending = h.request("POST", `${base}/shards/0/failover`, {});
    // The old master has the new topology: the switchover now waits for the replica.
    await eventually(
      async () => Number(await master.call("CLUSTERX", "VERSION")) === start.version + 1,
      10_000,
      10,
    );
    await round(h);
    // The round saw the replica behind etcd's version and left it alone.
    expect(Number(await replica.call("CLUSTERX", "VERSION"))).toBe(start.version);
    const res = await pending;
    expect(res.status, res.text).toBe(409);
    expect(masterOf((await h.cluster("s", "c")).shards[0]!)!.addr).toBe(master.addr);
  },
  60_000,
);

/**
 * This process's connections to `from` go to `to` instead (as test/support/connect-redirect.ts
 * does for a child process); returns the undo. The cluster keeps the nodes' real addresses.
 */
function redirect(pairs: Map<string, string>): () => void {
  const original = net.createConnection;
  const originalConnect = net.connect;
  const redirected = (...args: unknown[]) => {
    const [options] = args;
    if (options && typeof options === "object" && "port" in options) {
      const o = options as net.TcpNetConnectOpts;
      const to = pairs.get(`${o.host ?? "localhost"}:${o.port}`);
      if (to) {
        const at = to.lastIndexOf(":");
        args[0] = { ...o, host: to.slice(0, at), port: Number(to.slice(at + 1)) };
      }
    }
    return (original as (...a: unknown[]) => net.Socket).apply(net, args);
  };
  net.createConnection = redirected as typeof net.createConnection;
  net.connect = redirected as typeof net.connect;
  return () => {
    net.createConnection = original;
    net.connect = originalConnect;
  };
}

/** A forwarder to `target` that calls `onSetNodes` before passing on a CLUSTERX SETNODES. */
async function setNodesTrap(target: string, onSetNodes: () => void) {
  const at = target.lastIndexOf(":");
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.slice(at + 1)), target.slice(0, at));
    client.on("data", (chunk: Buffer) => {
      if (chunk.includes("SETNODES")) onSetNodes();
      upstream.write(chunk);
    });
    upstream.pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  return { addr: `127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}

// On real nodes too: the controller loses the new master at the exact step that matters. Its
// connections to both nodes go through forwarders; the moment the old master is sent the new
// topology, the new master's forwarder is cut, so its catch-up cannot be confirmed.
it("is undone with 409 when the new master cannot be reached once the old master took the topology", async () => {
  const start = await h.cluster("s", "c");
  const master = nodes.find((n) => n.addr === masterOf(start.shards[0]!)!.addr)!;
  for (let i = 0; i < 10; i++) await master.call("SET", `k${i}`, "v");
  const replica = await replicaOf();
  const toReplica = await TcpProxy.start(replica.addr);
  let armed = false;
  let sprung = false;
  const trap = await setNodesTrap(master.addr, () => {
    if (!armed) return;
    toReplica.cut();
    sprung = true;
  });
  const undo = redirect(
    new Map([
      [replica.addr, toReplica.addr],
      [master.addr, trap.addr],
    ]),
  );
  try {
    await h.nodePool.close();
    armed = true;
    const res = await h.request("POST", `${base}/shards/0/failover`, {});
    armed = false;
    expect(sprung).toBe(true);
    expect(res.status, res.text).toBe(409);
    expect(res.body.error.message).toMatch(/undone: .* did not reach the old master's sequence/);
    const after = await h.cluster("s", "c");
    expect(after.version).toBe(start.version + 2);
    expect(masterOf(after.shards[0]!)!.addr).toBe(master.addr);
    // The old master holds the restored topology and serves writes again.
    expect(Number(await master.call("CLUSTERX", "VERSION"))).toBe(after.version);
    await eventually(async () => (await master.call("SET", "after", "1")) === "OK", 10_000);
  } finally {
    armed = false;
    undo();
    toReplica.heal();
    await toReplica.close();
    await trap.close();
    h.nodePool.close();
  }
  // Reachable again, the replica is brought to the restored topology by a probe round.
  await round(h);
  const after = await h.cluster("s", "c");
  expect(Number(await replica.call("CLUSTERX", "VERSION"))).toBe(after.version);
  expect(masterOf(after.shards[0]!)!.addr).toBe(master.addr);
}, 60_000);

// Simulator only, for the same reason as above. A round that read its inputs before the
// switchover's marker existed, and fails over another shard's dead master meanwhile, pushes
// its topology (built on the switchover's commit) to every node: the switching shard's new
// master became master before it had caught up, the switchover could no longer be undone
// (the version had moved on) and answered 200 with the write it lacked lost.
it.skipIf(usingRealKvrocks())(
  "a failover of another shard during the switchover does not promote its new master before it catches up",
  async () => {
    const four = await h.startTestNodes(4);
    await h.createCluster("s", "d", four, 2);
    const start = await h.cluster("s", "d");
    const at = (addr: string) => four.find((n) => n.addr === addr)!;
    const dead = at(masterOf(start.shards[0]!)!.addr);
    const switching = at(masterOf(start.shards[1]!)!.addr);
    const behind = at(start.shards[1]!.nodes.find((n) => n.role === "slave")!.addr);
    await eventually(
      async () =>
        (
          await Promise.all(
            start.shards.flatMap((s) =>
              s.nodes
                .filter((n) => n.role === "slave")
                .map(async (n) => String(await at(n.addr).call("INFO", "replication"))),
            ),
          )
        ).every((info) => /master_link_status:up/.test(info)),
      30_000,
      50,
    );
    await round(h);
    // Shard 1's master holds writes, its replica is one behind and will get nothing more.
    let written = 0;
    for (let i = 0; written < 10; i++)
      if ((await switching.call("SET", `k${i}`, "v").catch(() => null)) === "OK") written++;
    behind.sim!.kvrocks.store.sequence -= 1;
    // Shard 0's master hangs: two rounds count it, the third fails it over.
    await dead.pause();
    await round(h);
    await round(h);
    const third = round(h);
    // The third round is waiting for the hung master's probe (1 s): the switchover begins now.
    await new Promise((r) => setTimeout(r, 150));
    const pending = h.request("POST", "/api/v1/namespaces/s/clusters/d/shards/1/failover", {});
    expect((await third).failovers).toBe(1);
    // The round failed shard 0 over while the switchover waits for the replica: it left shard
    // 1's nodes to the switchover, whose new master is still a replica, behind.
    expect(behind.sim!.state.role).toBe("slave");
    const res = await pending;
    const after = await h.cluster("s", "d");
    expect(masterOf(after.shards[0]!)!.addr).not.toBe(dead.addr);
    expect(res.status, res.text).toBe(409);
    expect(res.body.error.message).toMatch(/undone: .* did not reach the old master's sequence/);
    expect(masterOf(after.shards[1]!)!.addr).toBe(switching.addr);
    await dead.resume();
  },
  60_000,
);

// Simulator only, as above. An API change committed while a switchover waits for its new
// master (here: a node added to the switching shard) used to push its topology, built on the
// switch, to every node: the new master became master before it had caught up. Its push now
// waits for the switchover to end, then sends the latest topology.
it.skipIf(usingRealKvrocks())(
  "an API change during the switchover does not promote its new master before it catches up",
  async () => {
    const start = await h.cluster("s", "c");
    const master = nodes.find((n) => n.addr === masterOf(start.shards[0]!)!.addr)!;
    for (let i = 0; i < 10; i++) await master.call("SET", `k${i}`, "v");
    const replica = await replicaOf();
    replica.sim!.kvrocks.store.sequence -= 1;
    const [spare] = await h.startTestNodes(1);

    let promotedEarly = false;
    const watch = setInterval(() => {
      if (replica.sim!.state.role === "master") promotedEarly = true;
    }, 5);
    try {
      const pending = h.request("POST", `${base}/shards/0/failover`, {});
      await eventually(
        async () => Number(await master.call("CLUSTERX", "VERSION")) === start.version + 1,
        10_000,
        10,
      );
      const added = await h.request("POST", `${base}/shards/0/nodes`, {
        addr: spare!.addr,
        role: "slave",
      });
      expect(added.status, added.text).toBe(201);
      const res = await pending;
      expect(res.status, res.text).toBe(409);
    } finally {
      clearInterval(watch);
    }
    expect(promotedEarly).toBe(false);
    const after = await h.cluster("s", "c");
    expect(masterOf(after.shards[0]!)!.addr).toBe(master.addr);
    expect(after.shards[0]!.nodes.map((n) => n.addr)).toContain(spare!.addr);
    // Every node ends on the stored topology, the added one included.
    await eventually(
      async () =>
        (
          await Promise.all(
            [...nodes, spare!].map(async (n) => Number(await n.call("CLUSTERX", "VERSION"))),
          )
        ).every((v) => v === after.version),
      10_000,
      50,
    );
  },
  60_000,
);
