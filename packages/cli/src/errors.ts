/** Exit codes: 0 done, 1 failed or refused (by Herald or on the way to it), 2 the command line was wrong. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** The command line (or a file it named) is wrong; `field` is the flag, argument or JSON path at fault. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  readonly field: string;

  constructor(field: string, message: string, options?: ErrorOptions) {
    super(message.startsWith(`${field}: `) ? message : `${field}: ${message}`, options);
    this.field = field;
  }
}

/** Herald answered, and refused: an admin API error body or a gRPC status. `field` when it named one. */
export class RefusedError extends Error {
  override readonly name = "RefusedError";
  readonly field: string | undefined;
  /** The HTTP status or the gRPC status name. */
  readonly status: string;

  constructor(status: string, message: string, field?: string, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
    this.field = field;
  }
}

/** Herald could not be reached at the address the CLI was given (or found). */
export class UnreachableError extends Error {
  override readonly name = "UnreachableError";
}

export function exitCodeOf(err: unknown): number {
  return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILED;
}
