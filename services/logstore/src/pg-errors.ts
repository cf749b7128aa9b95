import { RetryableError, TerminalError } from "@herald/runtime";

/** The SQLSTATE of a Postgres error, when the server sent one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * True for a failure of the rows themselves (data exception, integrity violation): retrying the
 * same rows cannot help, but the other rows of their batch can still be stored.
 */
export function isRowError(err: unknown): boolean {
  const state = sqlState(err);
  return state !== undefined && (state.startsWith("22") || state.startsWith("23"));
}

/**
 * True for a failure that says nothing about the query: no connection, a server shutting down,
 * a database not taking connections, out of resources. Everything else is a bug in Herald.
 */
export function isUnavailable(err: unknown): boolean {
  const state = sqlState(err);
  if (state === undefined) return true;
  return ["08", "53", "57", "58"].includes(state.slice(0, 2)) || state === "55000" || state === "3D000";
}

/** The one classification of a failed write: the message comes back later (nak) or dies (term). */
export function writeFailure(err: unknown, what: string): Error {
  if (isRowError(err)) return new TerminalError(`${what}: row refused by Postgres`, { cause: err });
  return new RetryableError(`${what}: Postgres write failed`, { cause: err });
}
