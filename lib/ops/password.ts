// Password rotation: every node of a cluster moved to a new `requirepass`/`masterauth`, and the
// new password stored where every API instance and probe reads it (each node's `password` in
// the cluster document, upstream's field), never answered nor logged.
//
// Kvrocks (2.10) keeps an authenticated connection authenticated when `requirepass` changes,
// replication links included; a replica uses `masterauth` only when it (re)connects, and one
// refused retries after 10 s with its link down. So the order is: `masterauth` everywhere
// (a master does not use it; a replica's live link does not either), then `requirepass` on the
// masters, then on the replicas: only a link that happens to reconnect in the milliseconds
// between a replica's `masterauth` and its master's `requirepass` is refused once.
//
// Crash story: before any node is touched, the target is written to etcd (the rotation
// document, beside the probe state). A crash anywhere after leaves nodes on the old or the new
// password while etcd still stores the old one: a node on the new one answers the probe with
// an auth error, which the probe already treats as alive (never failed over, not counted by
// safe mode) until fixed. Repeating the rotation (same password) finds each node's password
// among those the cluster knows (its stored one, the target, earlier targets) and finishes;
// the document is deleted only once etcd stores the new password.
import { z } from "zod";
import { conflict, errorMessage, invalid, isKvcError } from "../errors.js";
import { withNode } from "../kvrocks/index.js";
import type { Cluster, ClusterNode } from "../model/index.js";
import type { OpsDeps } from "./deps.js";

export const PasswordRotation = z.object({
  /** The password the nodes are being moved to. */
  password: z.string(),
  /** Targets of earlier rotations this one replaced (`force`): a node may still hold one. */
  earlier: z.array(z.string()).default([]),
  started_at: z.number(),
});
export type PasswordRotation = z.infer<typeof PasswordRotation>;

export interface RotateRequest {
  ns: string;
  cluster: string;
  password: string;
  /** Replace a rotation to another password that did not finish. */
  force?: boolean;
}

export interface RotateResult {
  cluster: Cluster;
  nodes: number;
  /** A rotation to the same password was under way (a crash, a timeout): this finished it. */
  resumed: boolean;
}

/** Kvrocks's config file holds it on one line after the key: no spaces, no control characters. */
export function assertValidPassword(password: string): void {
  if (password.length === 0)
    throw invalid(
      "password: must not be empty (a cluster's nodes need one to be managed)",
      "password",
    );
  if (password.length > 512) throw invalid("password: at most 512 characters", "password");
  if (/[\s\u0000-\u001f\u007f"']/.test(password))
    throw invalid("password: no spaces, quotes or control characters", "password");
}

const rotationKey = (deps: OpsDeps, ns: string, cluster: string) =>
  `${deps.store.keys.clusterStatePrefix(ns, cluster)}password-rotation`;

async function answersTo(node: ClusterNode, password: string, timeoutMs: number) {
  return withNode(node.addr, { password, timeoutMs }, (c) => c.call("PING")).then(
    () => true,
    (err: unknown) => {
      // A refused password is an answer; anything else (down, timeout) is not.
      if (/NOAUTH|WRONGPASS|invalid password|no password is set/i.test(errorMessage(err)))
        return false;
      throw err;
    },
  );
}

/** The password the node accepts now, among those the cluster knows. */
async function currentPassword(
  node: ClusterNode,
  candidates: readonly string[],
  timeoutMs: number,
): Promise<string> {
  for (const p of new Set([node.password, ...candidates])) {
    if (await answersTo(node, p, timeoutMs)) return p;
  }
  throw conflict(
    `node ${node.addr} accepts none of the passwords this cluster knows: nothing changed on it; set its requirepass and masterauth by hand and repeat`,
  );
}

export async function rotatePassword(deps: OpsDeps, request: RotateRequest): Promise<RotateResult> {
  const { ns, cluster: name, password } = request;
  assertValidPassword(password);
  const { cluster } = await deps.store.getCluster(ns, name);
  const key = rotationKey(deps, ns, name);
  const log = deps.log.child({ namespace: ns, cluster: name });

  // 1. The intent, by compare-and-swap, before any node is touched.
  const found = await deps.store.getDoc(key, PasswordRotation);
  let intent: PasswordRotation;
  let revision: string;
  const resumed = found !== null && found.value.password === password;
  if (found && !resumed && !request.force)
    throw conflict(
      `a rotation to another password has not finished (started ${new Date(found.value.started_at).toISOString()}): repeat it with that password, or with force to replace it`,
    );
  if (found && resumed) {
    intent = found.value;
    revision = found.revision;
  } else {
    intent = {
      password,
      earlier: found ? [...found.value.earlier, found.value.password] : [],
      started_at: deps.now(),
    };
    revision = await deps.store.putDoc(key, intent, {
      expectRevision: found ? found.revision : "absent",
    });
  }

  // 2. Each node's current password: every node must answer before any is changed.
  const nodes = cluster.shards.flatMap((s) => s.nodes);
  const timeoutMs = deps.nodeTimeoutMs;
  const known = [intent.password, ...intent.earlier];
  const current = await Promise.all(
    nodes.map((n) =>
      currentPassword(n, known, timeoutMs).catch((err: unknown) => {
        if (isKvcError(err)) throw err;
        throw conflict(
          `node ${n.addr}: ${errorMessage(err)}; no node was changed by this run (repeat once it answers)`,
        );
      }),
    ),
  );
  const using = new Map(nodes.map((n, i) => [n.id, current[i]!]));
  const set = (n: ClusterNode, ...args: string[]) =>
    withNode(n.addr, { password: using.get(n.id)!, timeoutMs }, (c) => c.call(...args));

  // 3. masterauth everywhere, then requirepass on masters, then on replicas, then persist.
  await Promise.all(nodes.map((n) => set(n, "CONFIG", "SET", "masterauth", password)));
  const masters = nodes.filter((n) => n.role === "master");
  const replicas = nodes.filter((n) => n.role !== "master");
  for (const group of [masters, replicas]) {
    await Promise.all(
      group.map(async (n) => {
        await set(n, "CONFIG", "SET", "requirepass", password);
        using.set(n.id, password);
      }),
    );
  }
  // Without it a restarted node would come back on the old password, unmanageable.
  await Promise.all(nodes.map((n) => set(n, "CONFIG", "REWRITE")));

  // 4. etcd stores it: every API instance and probe uses it from their next read.
  const rotated = new Set(nodes.map((n) => n.id));
  const updated = await deps.store.updateCluster(ns, name, (now) => {
    const added = now.shards.flatMap((s) => s.nodes).filter((n) => !rotated.has(n.id));
    if (added.length > 0)
      throw conflict(
        `node ${added[0]!.addr} was added during the rotation: repeat it to move that node too`,
      );
    return {
      ...now,
      shards: now.shards.map((s) => ({ ...s, nodes: s.nodes.map((n) => ({ ...n, password })) })),
    };
  });
  // 5. Done: the document goes only now (a crash before leaves a rotation a repeat finishes).
  await deps.store.deleteDoc(key, { expectRevision: revision }).catch((err: unknown) => {
    log.warn({ error: errorMessage(err) }, "password: rotation document not deleted");
  });
  log.info({ nodes: nodes.length, resumed }, "password: rotated on every node");
  return { cluster: updated.cluster, nodes: nodes.length, resumed };
}
