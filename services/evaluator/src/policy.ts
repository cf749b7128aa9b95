import type { BeforeOutcome, CallbackFailure, HookPolicy, RetryChoice } from "@herald/dialects";
import type { CallResult } from "@herald/egress";

/** A failed call as the policy sees it: why, and the wait the business server asked for, if any. */
export interface FailedCall {
  readonly failure: CallbackFailure;
  /** From the answer's Retry-After (seconds or HTTP date, parsed by @herald/egress). */
  readonly retryAfterMs?: number;
}

/** Where a Before stands after a failed call. */
export interface PolicyClock {
  /** Retries made so far (0 after the first call). */
  readonly retries: number;
  /** Time spent since the first call went out. */
  readonly elapsedMs: number;
  /** The hook's whole budget: the first call and every retry. */
  readonly budgetMs: number;
}

export type Step =
  | { readonly kind: "retry"; readonly waitMs: number }
  /** Apply failedAction; `failure` carries why Herald stopped when that is more than the call's own failure. */
  | { readonly kind: "fail"; readonly failure: CallbackFailure };

/** Time a retry must have left after its wait: less is no real call. */
export const MIN_RETRY_CALL_MS = 10;
/** The most a backoff is lengthened at random, so retries of many Befores do not arrive together. */
export const BACKOFF_JITTER_SHARE = 0.2;

/**
 * The policy's choice for a failure, or undefined for a failure that is never retried: a timeout (it used
 * what was left of the budget), an answer Herald cannot read (bad JSON, actionCode != 0, too large, a 1xx or
 * 3xx), a destination the SSRF guard refused, a request HTTP cannot carry, an open breaker.
 */
export function retryChoiceFor(failure: CallbackFailure, policy: HookPolicy): RetryChoice | undefined {
  if (failure.reason === "network") return policy.on5xx;
  if (failure.reason !== "status") return undefined;
  if (failure.status === 429) return policy.on429;
  if (failure.status >= 400 && failure.status <= 499) return policy.on4xx;
  if (failure.status >= 500 && failure.status <= 599) return policy.on5xx;
  return undefined;
}

/**
 * What to do after a failed call (Ably's before-publish rules): retry after a wait that fits in what is
 * left of the budget, or give up and let failedAction decide. `jitter` in [0, 1) lengthens the backoff by
 * up to BACKOFF_JITTER_SHARE; a Retry-After is taken as the server gave it.
 */
export function nextStep(failed: FailedCall, clock: PolicyClock, policy: HookPolicy, jitter = 0): Step {
  const { failure } = failed;
  const giveUp = (why: string): Step => ({
    kind: "fail",
    failure: { ...failure, detail: `${failure.detail}; ${why}` },
  });
  if (retryChoiceFor(failure, policy) !== "retry") return { kind: "fail", failure };
  if (clock.retries >= policy.maxRetries) {
    return clock.retries === 0
      ? { kind: "fail", failure }
      : giveUp(`gave up after ${clock.retries + 1} calls`);
  }
  const leftMs = clock.budgetMs - clock.elapsedMs;
  if (failed.retryAfterMs !== undefined) {
    if (failed.retryAfterMs + MIN_RETRY_CALL_MS > leftMs) {
      return giveUp(
        `Retry-After ${duration(failed.retryAfterMs)} is beyond the hook's budget (${leftMs} ms left)`,
      );
    }
    return { kind: "retry", waitMs: failed.retryAfterMs };
  }
  const backoffMs = policy.retryBackoffMs * 2 ** clock.retries;
  const waitMs = Math.round(backoffMs * (1 + BACKOFF_JITTER_SHARE * jitter));
  if (waitMs + MIN_RETRY_CALL_MS > leftMs) {
    return giveUp(`the next retry's backoff of ${waitMs} ms is beyond the hook's budget (${leftMs} ms left)`);
  }
  return { kind: "retry", waitMs };
}

function duration(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** One call of a Before and Herald's reading of it. */
export interface JudgedCall {
  readonly result: CallResult;
  readonly outcome: BeforeOutcome;
}

export interface PolicyLoopOptions {
  readonly policy: HookPolicy;
  readonly budgetMs: number;
  /** One call to the business server over any transport, within `timeoutMs`; never throws. */
  readonly call: (timeoutMs: number) => Promise<CallResult>;
  /** Herald's reading of a call's result: the dialect's interpretation and Herald's own limits. */
  readonly judge: (result: CallResult) => BeforeOutcome;
  /** Told of each call that is retried, before the wait (for the attempt log). */
  readonly onRetry: (call: JudgedCall, failure: CallbackFailure, waitMs: number) => void;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

/**
 * Calls until an answer Herald can use, or until the policy gives up: the last call and its outcome, whose
 * failure (when it failed) says why Herald stopped. Each call may use what is left of the budget.
 */
export async function callWithPolicy(opts: PolicyLoopOptions): Promise<JudgedCall> {
  const now = opts.now ?? (() => performance.now());
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = opts.random ?? Math.random;
  const started = now();
  for (let retries = 0; ; retries++) {
    const leftMs = Math.max(1, Math.floor(opts.budgetMs - (now() - started)));
    const result = await opts.call(leftMs);
    const outcome = opts.judge(result);
    if (outcome.kind !== "failed") return { result, outcome };
    const failed = { failure: outcome.failure, retryAfterMs: result.headers.retryAfterMs };
    const clock = { retries, elapsedMs: Math.round(now() - started), budgetMs: opts.budgetMs };
    const step = nextStep(failed, clock, opts.policy, random());
    if (step.kind === "fail") return { result, outcome: { kind: "failed", failure: step.failure } };
    opts.onRetry({ result, outcome }, outcome.failure, step.waitMs);
    if (step.waitMs > 0) await sleep(step.waitMs);
  }
}
