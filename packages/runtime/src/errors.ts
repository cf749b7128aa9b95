/** Herald's one error taxonomy: one class per failure mode, each with a stable `code`. */
export class HeraldError extends Error {
  override name = "HeraldError";
  readonly code: string;

  constructor(message: string, opts: { code: string } & ErrorOptions) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = opts.code;
  }
}

/** Input that breaks a rule; `field` names it, `index` points into a list when there is one. */
export class ValidationError extends HeraldError {
  override name = "ValidationError";
  readonly field: string;
  readonly index: number | undefined;

  constructor(message: string, opts: { field: string; index?: number } & ErrorOptions) {
    super(message, { code: "validation", cause: opts.cause });
    this.field = opts.field;
    this.index = opts.index;
  }
}

/** Input larger than Herald can carry (gRPC RESOURCE_EXHAUSTED); `limitBytes` says how large it may be. */
export class TooLargeError extends ValidationError {
  override name = "TooLargeError";
  readonly limitBytes: number;

  constructor(message: string, opts: { field: string; index?: number; limitBytes: number } & ErrorOptions) {
    super(message, opts);
    this.limitBytes = opts.limitBytes;
  }
}

/**
 * A thing that does not exist; `field`, when set, names the request field that pointed at it
 * (`events[2].app_id`), `index` the list entry, as a ValidationError's do.
 */
export class NotFoundError extends HeraldError {
  override name = "NotFoundError";
  readonly resource: string;
  readonly id: string;
  readonly field: string | undefined;
  readonly index: number | undefined;

  constructor(
    message: string,
    opts: { resource: string; id: string; field?: string; index?: number } & ErrorOptions,
  ) {
    super(message, { code: "not_found", cause: opts.cause });
    this.resource = opts.resource;
    this.id = opts.id;
    this.field = opts.field;
    this.index = opts.index;
  }
}

/** The request field an error names (a ValidationError's, or a NotFoundError's that has one). */
export function errorField(err: unknown): string | undefined {
  return err instanceof ValidationError || err instanceof NotFoundError ? err.field : undefined;
}

/** The write lost a race or breaks an invariant of the current state (e.g. a KV revision moved). */
export class ConflictError extends HeraldError {
  override name = "ConflictError";

  constructor(message: string, opts?: ErrorOptions) {
    super(message, { code: "conflict", cause: opts?.cause });
  }
}

/** Retrying cannot help: the consumer terms the message and dead-letters it. */
export class TerminalError extends HeraldError {
  override name = "TerminalError";

  constructor(message: string, opts?: ErrorOptions) {
    super(message, { code: "terminal", cause: opts?.cause });
  }
}

/** Worth another attempt, after `retryAfterMs` when the other side said how long to wait. */
export class RetryableError extends HeraldError {
  override name = "RetryableError";
  readonly retryAfterMs: number | undefined;

  constructor(message: string, opts?: { retryAfterMs?: number } & ErrorOptions) {
    super(message, { code: "retryable", cause: opts?.cause });
    this.retryAfterMs = opts?.retryAfterMs;
  }
}

/** Configuration that cannot be used; `field` is the first bad one (e.g. "HTTP_PORT"). */
export class ConfigError extends HeraldError {
  override name = "ConfigError";
  readonly field: string;

  constructor(message: string, opts: { field: string } & ErrorOptions) {
    super(message, { code: "config", cause: opts.cause });
    this.field = opts.field;
  }
}

/** Normalises anything thrown into an Error; a non-Error keeps the original value as `cause`. */
export function ensureError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(describeThrown(value), { cause: value });
}

function describeThrown(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    // Circular structures and BigInts cannot be JSON; String() always can.
    return String(value);
  }
}

/**
 * The one list of what is worth retrying. Errors Herald did not classify count as transient
 * (network resets, timeouts) until a caller wraps them in a TerminalError.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof RetryableError) return true;
  if (
    err instanceof TerminalError ||
    err instanceof ValidationError ||
    err instanceof NotFoundError ||
    err instanceof ConflictError ||
    err instanceof ConfigError
  ) {
    return false;
  }
  return true;
}

/** The delay the failing side asked for, if any (e.g. from a Retry-After header). */
export function retryDelayMs(err: unknown): number | undefined {
  return err instanceof RetryableError ? err.retryAfterMs : undefined;
}

/**
 * Rejects with a plain (hence retryable) Error when `work` has not settled within `ms`.
 * The work itself is not cancelled; pass it an AbortSignal for that.
 */
export async function deadlineTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
