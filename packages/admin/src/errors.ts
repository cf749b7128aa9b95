import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import type { FastifyError } from "fastify";
import { ConfigFileError, ConfigTooLargeError } from "@herald/config";
import { natsUnanswered } from "@herald/bus";
import { DestinationRefusedError } from "@herald/egress";
import {
  ConfigError,
  ConflictError,
  HeraldError,
  NotFoundError,
  RetryableError,
  TooLargeError,
  ValidationError,
  type Logger,
} from "@herald/runtime";
import type { ApiErrorBody } from "./answers.js";
import type { AdminApp } from "./context.js";

/** The admin API's error body, as answers.ts's errorSchema has it (the panel reads the same type). */
export type ErrorBody = ApiErrorBody;
/** The `error.code` values of the admin API's error body. */
export type ErrorCode = ErrorBody["error"]["code"];

/**
 * A refusal that only makes sense over HTTP (no credentials, wrong role, a dependency down). Everything
 * else is thrown as Herald's own errors and mapped in one place, `errorReply`.
 */
export class AdminHttpError extends HeraldError {
  override name = "AdminHttpError";
  readonly status: number;
  readonly errorCode: ErrorCode;
  readonly field: string | undefined;

  constructor(
    status: number,
    code: ErrorCode,
    message: string,
    opts: { field?: string } & ErrorOptions = {},
  ) {
    super(message, { code, cause: opts.cause });
    this.status = status;
    this.errorCode = code;
    this.field = opts.field;
  }
}

export const unauthenticated = (message: string) => new AdminHttpError(401, "unauthenticated", message);
export const forbidden = (message: string) => new AdminHttpError(403, "forbidden", message);
export const unavailable = (message: string, cause?: unknown) =>
  new AdminHttpError(503, "unavailable", message, { cause });

/**
 * A missing thing, named by the request field that pointed at it (`appId`, `endpointId`, `openim`...).
 * An app that a key may not see answers with exactly this, so a key cannot probe for other apps.
 */
export function notFound(field: string, message: string): NotFoundError {
  return new NotFoundError(message, { resource: field, id: "" });
}

export function appNotFound(appId: string): NotFoundError {
  return notFound("appId", `app ${JSON.stringify(appId)} not found`);
}

/** Runs `work`, re-rooting the field of a config error with `fix`, for a body nested differently. */
export function refield<T>(work: () => T, fix: (field: string) => string): T {
  try {
    return work();
  } catch (err) {
    if (err instanceof ConfigFileError || err instanceof ValidationError || err instanceof ConfigError) {
      throw new ValidationError(stripPathPrefix(err.message, err), { field: fix(fieldOf(err)), cause: err });
    }
    throw err;
  }
}

function fieldOf(err: ConfigFileError | ValidationError | ConfigError): string {
  return err instanceof ConfigFileError ? err.path : err.field;
}

// ConfigFileError's message starts with "<path>: "; the field is reported on its own.
function stripPathPrefix(message: string, err: ConfigFileError | ValidationError | ConfigError): string {
  const prefix = `${fieldOf(err)}: `;
  return message.startsWith(prefix) ? message.slice(prefix.length) : message;
}

/** The answer to a body over the admin API's limit, however it was noticed. */
export function bodyTooLargeReply(limitBytes: number | undefined): { status: number; body: ErrorBody } {
  const limit = limitBytes === undefined ? "" : ` of ${limitBytes} bytes`;
  const message = `body: larger than the admin API's limit${limit} (NATS max_payload)`;
  return { status: 413, body: { error: { code: "too_large", message, field: "body" } } };
}

/** The status and body for anything a route threw; a 500 only for what nobody classified (a bug). */
export function errorReply(
  thrown: unknown,
  opts: { bodyLimitBytes?: number; what?: string } = {},
): { status: number; body: ErrorBody } {
  const what = opts.what ?? "the request";
  // NATS that did not answer is a dependency down (503, saying so), not a bug of the route.
  const err = natsUnanswered(thrown, what);
  const reply = (status: number, code: ErrorCode, message: string, field?: string) => ({
    status,
    body: { error: { code, message, ...(field === undefined || field === "" ? {} : { field }) } },
  });
  if (hasZodFastifySchemaValidationErrors(err)) {
    const issue = err.validation[0];
    const where = (err as { validationContext?: string }).validationContext;
    let segments = (issue?.instancePath ?? "").split("/").filter((s) => s !== "");
    const keys = (issue?.params as { keys?: unknown } | undefined)?.keys;
    if (issue?.keyword === "unrecognized_keys" && Array.isArray(keys) && typeof keys[0] === "string") {
      segments = [...segments, keys[0]];
    }
    const field = segments.length > 0 ? segments.join(".") : where === "body" ? "body" : undefined;
    const message = issue?.message ?? "invalid request";
    return reply(400, "invalid_argument", field === undefined ? message : `${field}: ${message}`, field);
  }
  if (err instanceof AdminHttpError) return reply(err.status, err.errorCode, err.message, err.field);
  if (err instanceof ConfigTooLargeError) return reply(413, "too_large", err.message, "body");
  if (err instanceof TooLargeError) return reply(413, "too_large", err.message, err.field);
  if (err instanceof ConfigFileError) {
    const field = err.path === "(root)" || err.path === "" ? "body" : err.path;
    return reply(400, "invalid_argument", err.message, field);
  }
  if (err instanceof ValidationError || err instanceof ConfigError) {
    return reply(400, "invalid_argument", err.message, err.field);
  }
  if (err instanceof DestinationRefusedError) return reply(400, "invalid_argument", err.message, "url");
  if (err instanceof NotFoundError) return reply(404, "not_found", err.message, err.resource);
  if (err instanceof ConflictError) return reply(409, "conflict", err.message);
  if (err instanceof RetryableError) return reply(503, "unavailable", err.message);
  const status = (err as Partial<FastifyError> | undefined)?.statusCode;
  if ((err as Partial<FastifyError> | undefined)?.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
    return bodyTooLargeReply(opts.bodyLimitBytes);
  }
  if (typeof status === "number" && status >= 400 && status < 500) {
    // Fastify's own refusals: malformed JSON, an unsupported content type, a body too large.
    const message = (err as Error).message;
    const code: ErrorCode = status === 404 ? "not_found" : "invalid_argument";
    return reply(status, code, message, status === 404 ? undefined : "body");
  }
  // The cause stays in the log; the caller learns what failed and where to look.
  const name = err instanceof Error ? err.name : typeof err;
  return reply(
    500,
    "internal",
    `${what} failed with an internal error (${name}); its cause is in the gateway's log`,
  );
}

/**
 * Errors fastify raises before routing (a path that is not valid percent-encoded UTF-8) answer with the
 * one error body too; they are the client's.
 */
export function frameworkErrorReply(err: FastifyError): { status: number; body: ErrorBody } {
  const status = typeof err.statusCode === "number" && err.statusCode < 500 ? err.statusCode : 400;
  return { status, body: { error: { code: "invalid_argument", message: err.message, field: "path" } } };
}

/** Every error and every unknown route answers with the one error body. */
export function installErrorHandlers(app: AdminApp, log: Logger): void {
  app.setErrorHandler((err, request, reply) => {
    const { status, body } = errorReply(err, {
      bodyLimitBytes: request.routeOptions.bodyLimit,
      what: `${request.method} ${request.routeOptions.url ?? request.url.split("?")[0]}`,
    });
    if (status === 500) log.error({ err, method: request.method, url: request.url }, "admin API failure");
    else if (status === 503)
      log.warn({ err, method: request.method, url: request.url }, "admin API: a dependency is unavailable");
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      error: { code: "not_found", message: `no route ${request.method} ${request.url.split("?")[0]}` },
    } satisfies ErrorBody),
  );
}
