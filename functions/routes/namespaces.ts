import { Hono } from "hono";
import { z } from "zod";
import { ResourceName } from "../../lib/model/index.js";
import { answers } from "../answers.js";
import { principalOf, visibleNamespaces } from "../auth.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { describe } from "../openapi.js";
import { NamespaceParams, validate } from "../validation.js";

export function namespaceRoutes(deps: AppDeps) {
  const { store } = deps.ops;
  return new Hono<AppEnv>()
    .get(
      "/",
      describe({
        summary: "List namespaces",
        tag: "namespaces",
        answers: { 200: answers.namespaces },
      }),
      // A namespace token sees its own namespaces only.
      async (c) =>
        c.json({
          data: { namespaces: visibleNamespaces(principalOf(c), await store.listNamespaces()) },
        }),
    )
    .post(
      "/",
      describe({
        summary: "Create a namespace",
        tag: "namespaces",
        answers: { 201: answers.namespace },
        errors: [409],
      }),
      validate("json", z.object({ namespace: ResourceName })),
      async (c) => {
        const { namespace } = c.req.valid("json");
        await store.createNamespace(namespace);
        return c.json({ data: { namespace } }, 201);
      },
    )
    .get(
      "/:ns",
      describe({
        summary: "Check that a namespace exists",
        tag: "namespaces",
        answers: { 200: answers.namespace },
        errors: [404],
      }),
      validate("param", NamespaceParams),
      async (c) => {
        const { ns } = c.req.valid("param");
        await store.getNamespace(ns);
        return c.json({ data: { namespace: ns } });
      },
    )
    .delete(
      "/:ns",
      describe({
        summary: "Delete an empty namespace",
        tag: "namespaces",
        answers: { 204: null },
        errors: [403, 404],
      }),
      validate("param", NamespaceParams),
      async (c) => {
        await store.deleteNamespace(c.req.valid("param").ns);
        return c.body(null, 204);
      },
    );
}
