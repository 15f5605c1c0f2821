// The one place errors become HTTP answers: `{"error": {"message": ...}}` with upstream's codes.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ZodError } from "zod";
import { type ErrorKind, isKvcError } from "../lib/errors.js";

const statusByKind: Record<ErrorKind, ContentfulStatusCode> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  exists: 409,
  conflict: 409,
  too_large: 413,
  unavailable: 503,
  // A node refused what was asked: the request cannot be done as given.
  node_error: 400,
};

export interface ErrorBody {
  error: { message: string; field?: string };
}

export function zodMessage(err: ZodError): { message: string; field: string } {
  const issue = err.issues[0];
  const field = issue?.path.join(".") || "body";
  return { message: `${field}: ${issue?.message ?? "invalid"}`, field };
}

export function errorAnswer(err: unknown): { status: ContentfulStatusCode; body: ErrorBody } {
  if (isKvcError(err)) {
    const body: ErrorBody = { error: { message: err.message } };
    if (err.field) body.error.field = err.field;
    return { status: statusByKind[err.kind], body };
  }
  if (err instanceof ZodError) {
    const { message, field } = zodMessage(err);
    return { status: 400, body: { error: { message, field } } };
  }
  if (err instanceof HTTPException) {
    return {
      status: err.status as ContentfulStatusCode,
      body: { error: { message: err.message } },
    };
  }
  return { status: 500, body: { error: { message: "internal error" } } };
}

export function onError(err: Error, c: Context) {
  const { status, body } = errorAnswer(err);
  if (status === 500) console.error(`[${c.get("requestId") ?? "-"}] unhandled error:`, err);
  return c.json(body, status);
}
