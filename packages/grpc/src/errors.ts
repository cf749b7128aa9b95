import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import {
  ConflictError,
  NotFoundError,
  RetryableError,
  TooLargeError,
  ValidationError,
  ensureError,
  errorField,
} from "@herald/runtime";

/** The one mapping from Herald's error taxonomy to gRPC status codes. */
export function grpcCode(err: unknown): status {
  if (err instanceof TooLargeError) return status.RESOURCE_EXHAUSTED;
  if (err instanceof ValidationError) return status.INVALID_ARGUMENT;
  if (err instanceof NotFoundError) return status.NOT_FOUND;
  if (err instanceof ConflictError) return status.ALREADY_EXISTS;
  if (err instanceof RetryableError) return status.UNAVAILABLE;
  return status.INTERNAL;
}

/**
 * The details of a failure as the caller reads them: the error's own message, except for an internal
 * one, whose details stay in the server's log; the caller still learns what failed and how to find it.
 */
export function errorDetails(err: unknown, what: string): string {
  const e = ensureError(err);
  if (grpcCode(e) !== status.INTERNAL) return e.message;
  return `${what} failed with an internal error (${e.name}); its cause is in the server's log`;
}

/** `err` as a gRPC error; `what` names the call in an internal error's details ("chatroom query"). */
export function toServiceError(err: unknown, what = "the call"): Partial<ServiceError> {
  const e = ensureError(err);
  const metadata = new Metadata();
  const field = errorField(e);
  if (field !== undefined) metadata.set("herald-field", field);
  if (e instanceof RetryableError && e.retryAfterMs !== undefined) {
    metadata.set("herald-retry-after-ms", String(e.retryAfterMs));
  }
  const code = grpcCode(e);
  const details = errorDetails(e, what);
  return { code, details, metadata, name: e.name, message: details };
}

export function unimplemented(what: string): Partial<ServiceError> {
  return { code: status.UNIMPLEMENTED, details: `${what} is not implemented yet` };
}
