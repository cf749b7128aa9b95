import type { EndpointConfig } from "@herald/config";

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

/**
 * The one place where an attempt's result becomes delivered, retry or dead, per dialect:
 * 2xx delivers; mqttchat disables at once on an unreachable URL or 401/403 (seed 000); standard
 * disables on 410 (Standard Webhooks); a refused destination (SSRF guard) is dead at once, and so is
 * a request HTTP cannot carry (the endpoint stays enabled: the server was never asked); anything
 * else is retried on the endpoint's schedule (Retry-After honoured, never sooner than the schedule)
 * until the schedule runs out.
 */
export function judgeAttempt(
  endpoint: Pick<EndpointConfig, "dialect" | "retry">,
  attempt: number,
  result: AttemptResult,
  random: () => number = Math.random,
): Verdict {
  if (result.ok && result.status >= 200 && result.status < 300) return { kind: "delivered" };
  const error = describeFailure(result);
  if (result.failure?.reason === "refused") {
    const dead: Verdict = { kind: "dead", error };
    return endpoint.dialect === "mqttchat" ? { ...dead, disable: `destination refused: ${error}` } : dead;
  }
  if (result.failure?.reason === "request") return { kind: "dead", error };
  const disable = disableReason(endpoint.dialect, result);
  if (disable !== undefined) return { kind: "dead", error, disable };
  const schedule = endpoint.retry.scheduleMs;
  const base = schedule[attempt - 1];
  if (base === undefined) {
    return { kind: "dead", error: `${error} (out of attempts: ${attempt})` };
  }
  const jittered = withJitter(base, endpoint.retry.jitter, random);
  const retryAfter = Math.min(result.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS);
  return { kind: "retry", delayMs: Math.max(jittered, retryAfter), error };
}

export function isTimeout(result: AttemptResult): boolean {
  return !result.ok && result.failure?.reason === "timeout";
}

function disableReason(dialect: EndpointConfig["dialect"], result: AttemptResult): string | undefined {
  if (dialect === "mqttchat") {
    if (!result.ok && result.failure?.reason === "network") return `unreachable: ${result.failure.detail}`;
    if (result.ok && (result.status === 401 || result.status === 403))
      return `answered HTTP ${result.status}`;
  }
  if (dialect === "standard" && result.ok && result.status === 410) return "answered HTTP 410 Gone";
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
