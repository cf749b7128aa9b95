import { RetryableError } from "@herald/runtime";

// nats.js's errors by name: the transport and the JetStream client may each bring their own copy of a class.
const UNANSWERED = new Set([
  "TimeoutError",
  "NoResponders",
  "JetStreamNotEnabled",
  "ClosedConnectionError",
  "DrainingConnectionError",
  "ConnectionError",
]);

/**
 * True when NATS gave no answer (a request timed out, nothing responded, the connection is closed or
 * draining): nothing is wrong with what was asked, and asking again later may work.
 */
export function isNatsUnanswered(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (UNANSWERED.has(err.name)) return true;
  if (err.name === "RequestError") return /no responders/i.test(err.message);
  // JetStream busy or electing a leader answers with status 503 ("temporarily unavailable").
  if (err.name === "JetStreamApiError") return (err as Error & { status?: unknown }).status === 503;
  // Known by class only: a message may say "timeout" for any reason ("timeout: must be 1-60").
  return false;
}

/**
 * `err` as a RetryableError that says what got no answer ("reading chatroom state: NATS did not answer
 * (TimeoutError)") when NATS gave none; any other error unchanged. A caller then learns what failed
 * and that trying again may work, rather than an internal error.
 */
export function natsUnanswered(err: unknown, what: string): unknown {
  if (!isNatsUnanswered(err)) return err;
  return new RetryableError(`${what}: NATS did not answer (${(err as Error).name})`, { cause: err });
}
