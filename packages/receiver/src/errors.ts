export type SignatureFailure = "missing" | "malformed" | "mismatch" | "stale" | "future";

/** The request's signature is absent, unreadable, wrong, or outside the freshness window. */
export class SignatureError extends Error {
  override readonly name = "SignatureError";
  readonly reason: SignatureFailure;

  constructor(reason: SignatureFailure, message: string, options?: ErrorOptions) {
    super(`${reason}: ${message}`, options);
    this.reason = reason;
  }
}

/** The request body (or a required envelope part) does not have the dialect's shape. */
export class PayloadError extends Error {
  override readonly name = "PayloadError";
  /** Path of the offending field, e.g. `message.type` or `[1].userIds`; `(body)` when not JSON. */
  readonly field: string;

  constructor(field: string, message: string, options?: ErrorOptions) {
    super(`${field}: ${message}`, options);
    this.field = field;
  }
}
