// Commands to a cluster's nodes. The token check admits any token that may see the
// namespace; what each may send is lib/ops/command-policy.ts's table to say.
import { Hono } from "hono";
import { z } from "zod";
import { NodeRole } from "../../lib/model/index.js";
import { commandCaller, sendNodeCommand } from "../../lib/ops/index.js";
import { principalOf } from "../auth.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { describe } from "../openapi.js";
import { ClusterParams, validate } from "../validation.js";

const CommandBody = z.object({
  command: z
    .array(z.string())
    .min(1, "must name a command")
    .max(1024, "at most 1024 arguments")
    .meta({ description: 'The command and its arguments: ["CONFIG", "GET", "maxclients"]' }),
  target: z.enum(["all", "masters", "replicas"]).default("all"),
  /** One node only, by address or id. */
  node: z.string().min(1).optional(),
  /** Needed for FLUSHALL / FLUSHDB. */
  force: z.boolean().default(false),
});

// Any RESP reply as JSON: strings, integers, null, nested arrays, {error} inside arrays.
const Reply = z.unknown().meta({ description: "the node's reply, as JSON" });

const CommandAnswer = z.object({
  data: z.object({
    command: z.string(),
    results: z.array(
      z.object({
        id: z.string(),
        addr: z.string(),
        shard: z.number().int(),
        role: NodeRole,
        ok: z.boolean(),
        reply: Reply.optional(),
        error: z.string().optional(),
      }),
    ),
  }),
});

export function commandRoutes(deps: AppDeps) {
  return new Hono<AppEnv>().post(
    "/:ns/clusters/:cluster/commands",
    describe({
      summary:
        "Send one command to every node, the masters, the replicas or one node; each node's reply",
      tag: "nodes",
      answers: { 200: CommandAnswer },
      errors: [403, 404],
    }),
    validate("param", ClusterParams),
    validate("json", CommandBody),
    async (c) => {
      const { ns, cluster } = c.req.valid("param");
      const body = c.req.valid("json");
      const results = await sendNodeCommand(deps.ops, ns, cluster, {
        args: body.command,
        target: body.target,
        node: body.node,
        force: body.force,
        // The token check let any token that may see the namespace through (see accessFor).
        caller: commandCaller(principalOf(c), ns),
      });
      return c.json({ data: { command: body.command[0]!.toUpperCase(), results } });
    },
  );
}
