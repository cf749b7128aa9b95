import type { EndpointConfig } from "@herald/config";
import { statusIn } from "@herald/dialects";

/** What came back from one HTTP attempt, as @herald/egress reports it. */
export interface AttemptResult {
  /** A response arrived (any status). */
  ok: boolean;
  status: number;
  body: string;
  latencyMs: number;
  retryAfterMs?: number | undefined;
  failure?: { reason: string; detail: string } | undefined;
}

export type Verdict =
  | { kind: "delivered" }
  | { kind: "retry"; delayMs: number; error: string }
  /** `disable`: the endpoint is disabled for this reason, and the job is dead. */
  | { kind: "dead"; error: string; disable?: string };

/** A Retry-After beyond this is read as "a day": a job is never parked longer by one answer. */
export const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

/** What the queue knows beyond the one attempt: the endpoint's timeouts in a row, this one included. */
export interface AttemptContext {
  timeoutsInARow?: number;
  /** The dialect's reading of a 2xx answer: why it still says failure (a Tencent ErrorCode), if it does. */
  refusal?: string | undefined;
}

/**
 * The one place where an attempt's result becomes delivered, retry or dead: a 2xx delivers unless the
 * dialect reads a refusal in its body (then it is retried); the endpoint's disableOn rules (its dialect's
 * defaults: MQTT-chat on unreachable, 3 timeouts in a row and 4xx but 408/429; Standard Webhooks on 410)
 * disable it and kill the job; a refused destination (SSRF guard) is dead at once, and so is a request
 * HTTP cannot carry (the endpoint stays enabled: the server was never asked); anything else is retried
 * on the endpoint's schedule (Retry-After honoured, never sooner than the schedule) until it runs out.
 */
export function judgeAttempt(
  endpoint: Pick<EndpointConfig, "retry" | "disableOn">,
  attempt: number,
  result: AttemptResult,
  context: AttemptContext = {},
  random: () => number = Math.random,
): Verdict {
  const answered2xx = result.ok && result.status >= 200 && result.status < 300;
  if (answered2xx && context.refusal === undefined) return { kind: "delivered" };
  const error = answered2xx ? `HTTP ${result.status}: ${context.refusal}` : describeFailure(result);
  const rules = endpoint.disableOn;
  if (result.failure?.reason === "refused") {
    return rules.unreachable ? disabling(error, `destination refused: ${error}`) : { kind: "dead", error };
  }
  if (result.failure?.reason === "request") return { kind: "dead", error };
  const disable = disableReason(rules, result, context.timeoutsInARow ?? 0);
  if (disable !== undefined) return disabling(error, disable);
  const schedule = endpoint.retry.scheduleMs;
  const base = schedule[attempt - 1];
  if (base === undefined) {
    return { kind: "dead", error: `${error} (out of attempts: ${attempt})` };
  }
  const jittered = withJitter(base, endpoint.retry.jitter, random);
  const retryAfter = Math.min(result.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS);
  return { kind: "retry", delayMs: Math.max(jittered, retryAfter), error };
}

// The dead delivery's record says why it was not retried, as "(out of attempts: n)" does: an operator
// reading the log sees the reason the endpoint shows, on the delivery that caused it.
function disabling(error: string, disable: string): Verdict {
  return { kind: "dead", error: `${error} (endpoint disabled: ${disable})`, disable };
}

export function isTimeout(result: AttemptResult): boolean {
  return !result.ok && result.failure?.reason === "timeout";
}

function disableReason(
  rules: EndpointConfig["disableOn"],
  result: AttemptResult,
  timeoutsInARow: number,
): string | undefined {
  if (!result.ok && result.failure?.reason === "network" && rules.unreachable) {
    return `unreachable: ${result.failure.detail}`;
  }
  if (isTimeout(result) && rules.timeoutsInARow > 0 && timeoutsInARow >= rules.timeoutsInARow) {
    return `no answer: ${timeoutsInARow} timeouts in a row`;
  }
  if (result.ok && statusIn(rules.statuses, result.status)) {
    return result.status === 410 ? "answered HTTP 410 Gone" : `answered HTTP ${result.status}`;
  }
  return undefined;
}

export function describeFailure(result: AttemptResult): string {
  if (!result.ok) return `${result.failure?.reason ?? "failed"}: ${result.failure?.detail ?? ""}`.trim();
  return `HTTP ${result.status}`;
}

function withJitter(base: number, jitter: number, random: () => number): number {
  if (jitter <= 0) return base;
  return Math.max(0, Math.round(base * (1 + jitter * (2 * random() - 1))));
}
