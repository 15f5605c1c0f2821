import { Hono } from "hono";
import { z } from "zod";
import { ResourceName } from "../../lib/model/index.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { NamespaceParams, validate } from "../validation.js";

export function namespaceRoutes(deps: AppDeps) {
  const { store } = deps.ops;
  return new Hono<AppEnv>()
    .get("/", async (c) => c.json({ data: { namespaces: await store.listNamespaces() } }))
    .post("/", validate("json", z.object({ namespace: ResourceName })), async (c) => {
      const { namespace } = c.req.valid("json");
      await store.createNamespace(namespace);
      return c.json({ data: { namespace } }, 201);
    })
    .get("/:ns", validate("param", NamespaceParams), async (c) => {
      const { ns } = c.req.valid("param");
      await store.getNamespace(ns);
      return c.json({ data: { namespace: ns } });
    })
    .delete("/:ns", validate("param", NamespaceParams), async (c) => {
      await store.deleteNamespace(c.req.valid("param").ns);
      return c.body(null, 204);
    });
}
