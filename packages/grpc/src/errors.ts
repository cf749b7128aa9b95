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

export function toServiceError(err: unknown): Partial<ServiceError> {
  const e = ensureError(err);
  const metadata = new Metadata();
  const field = errorField(e);
  if (field !== undefined) metadata.set("herald-field", field);
  if (e instanceof RetryableError && e.retryAfterMs !== undefined) {
    metadata.set("herald-retry-after-ms", String(e.retryAfterMs));
  }
  const code = grpcCode(e);
  // Internal details stay in the log; the caller learns only that it was not its fault.
  const details = code === status.INTERNAL ? "internal error" : e.message;
  return { code, details, metadata, name: e.name, message: details };
}

export function unimplemented(what: string): Partial<ServiceError> {
  return { code: status.UNIMPLEMENTED, details: `${what} is not implemented yet` };
}
