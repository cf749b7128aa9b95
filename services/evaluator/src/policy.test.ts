import { describe, expect, it } from "vitest";
import { DEFAULT_HOOK_POLICY, type CallbackFailure, type HookPolicy } from "@herald/dialects";
import type { CallResult } from "@herald/egress";
import { MIN_RETRY_CALL_MS, callWithPolicy, nextStep, retryChoiceFor, type FailedCall } from "./policy.js";

const policy: HookPolicy = { ...DEFAULT_HOOK_POLICY, maxRetries: 3, retryBackoffMs: 100 };
const start = { retries: 0, elapsedMs: 0, budgetMs: 5_000 };
const status = (code: number): CallbackFailure => ({
  reason: "status",
  status: code,
  detail: `HTTP ${code}`,
});
const failed = (failure: CallbackFailure, retryAfterMs?: number): FailedCall =>
  retryAfterMs === undefined ? { failure } : { failure, retryAfterMs };

describe("retryChoiceFor", () => {
  it("reads 4xx, 429 and 5xx from their own settings, a broken connection as a 5xx", () => {
    const p: HookPolicy = { ...policy, on4xx: "retry", on429: "fail", on5xx: "fail" };
    expect(retryChoiceFor(status(404), p)).toBe("retry");
    expect(retryChoiceFor(status(429), p)).toBe("fail");
    expect(retryChoiceFor(status(503), p)).toBe("fail");
    expect(retryChoiceFor({ reason: "network", detail: "connection refused" }, p)).toBe("fail");
    expect(retryChoiceFor({ reason: "network", detail: "connection reset" }, policy)).toBe("retry");
  });

  it("never retries a timeout, an unreadable answer, a 3xx, an SSRF refusal, a bad request or an open breaker", () => {
    const all: HookPolicy = { ...policy, on4xx: "retry", on429: "retry", on5xx: "retry" };
    const never: CallbackFailure[] = [
      { reason: "timeout", detail: "no answer within 1000 ms" },
      { reason: "body", detail: "response is not a JSON object" },
      { reason: "action", actionCode: 1, detail: "actionCode 1" },
      status(302),
      { reason: "refused", detail: "loopback address" },
      { reason: "request", detail: "header x: bad" },
      { reason: "breaker", detail: "breaker open" },
    ];
    for (const failure of never) expect(retryChoiceFor(failure, all), failure.reason).toBeUndefined();
  });
});

describe("nextStep", () => {
  it("fails at once, with the call's own failure, on a 4xx under the default policy", () => {
    expect(nextStep(failed(status(400)), start, policy)).toEqual({ kind: "fail", failure: status(400) });
  });

  it("retries a 4xx when on4xx says retry", () => {
    expect(nextStep(failed(status(400)), start, { ...policy, on4xx: "retry" })).toEqual({
      kind: "retry",
      waitMs: 100,
    });
  });

  it("doubles the backoff on each retry, with at most a fifth more at random", () => {
    const waits = [0, 1, 2].map((retries) => nextStep(failed(status(500)), { ...start, retries }, policy));
    expect(waits).toEqual([100, 200, 400].map((waitMs) => ({ kind: "retry", waitMs })));
    expect(nextStep(failed(status(500)), start, policy, 0.5)).toEqual({ kind: "retry", waitMs: 110 });
    expect(nextStep(failed(status(500)), start, policy, 0.999)).toEqual({ kind: "retry", waitMs: 120 });
  });

  it("gives up after maxRetries retries, saying how many calls were made", () => {
    const step = nextStep(failed(status(502)), { ...start, retries: 3 }, policy);
    expect(step).toEqual({
      kind: "fail",
      failure: { ...status(502), detail: "HTTP 502; gave up after 4 calls" },
    });
  });

  it("makes one call, and says nothing more, when maxRetries is 0", () => {
    expect(nextStep(failed(status(503)), start, DEFAULT_HOOK_POLICY)).toEqual({
      kind: "fail",
      failure: status(503),
    });
  });

  it("waits a 429's Retry-After instead of the backoff when it fits in the budget", () => {
    expect(nextStep(failed(status(429), 1_000), start, policy)).toEqual({ kind: "retry", waitMs: 1_000 });
    expect(nextStep(failed(status(429), 0), start, policy)).toEqual({ kind: "retry", waitMs: 0 });
  });

  it("fails at once when the Retry-After is beyond the budget, saying so", () => {
    const step = nextStep(failed(status(429), 30_000), { ...start, elapsedMs: 40 }, policy);
    expect(step).toEqual({
      kind: "fail",
      failure: {
        ...status(429),
        detail: "HTTP 429; Retry-After 30 s is beyond the hook's budget (4960 ms left)",
      },
    });
  });

  it("fails at once on a 429 when on429 says fail, whatever its Retry-After", () => {
    expect(nextStep(failed(status(429), 10), start, { ...policy, on429: "fail" })).toEqual({
      kind: "fail",
      failure: status(429),
    });
  });

  it("does not wait a backoff that leaves no time for the call", () => {
    const fits = { ...start, elapsedMs: start.budgetMs - 100 - MIN_RETRY_CALL_MS };
    expect(nextStep(failed(status(500)), fits, policy)).toEqual({ kind: "retry", waitMs: 100 });
    const step = nextStep(failed(status(500)), { ...fits, elapsedMs: fits.elapsedMs + 1 }, policy);
    expect(step.kind).toBe("fail");
    expect(step.kind === "fail" && step.failure.detail).toContain("beyond the hook's budget (109 ms left)");
  });

  it("never retries a timeout, even with retries and budget left", () => {
    const timeout: CallbackFailure = { reason: "timeout", detail: "no answer within 5000 ms" };
    expect(nextStep(failed(timeout), start, policy)).toEqual({ kind: "fail", failure: timeout });
  });
});

describe("callWithPolicy", () => {
  const answered = (
    code: number,
    headers: Record<string, string> = {},
    retryAfterMs?: number,
  ): CallResult => ({
    ok: true,
    status: code,
    headers: retryAfterMs === undefined ? { all: headers } : { all: headers, retryAfterMs },
    body: "",
    bodyIsUtf8: true,
    latencyMs: 1,
  });
  const judge = (result: CallResult) =>
    result.ok && result.status === 200
      ? ({ kind: "continue" } as const)
      : ({ kind: "failed", failure: status(result.status) } as const);

  /** A fake clock that sleeps instantly, and the calls the loop made with their timeouts. */
  function run(results: CallResult[], p: HookPolicy, budgetMs = 1_000, callMs = 10) {
    let now = 0;
    const timeouts: number[] = [];
    const retried: Array<[number, number]> = [];
    const done = callWithPolicy({
      policy: p,
      budgetMs,
      call: (timeoutMs) => {
        timeouts.push(timeoutMs);
        now += callMs;
        return Promise.resolve(results.shift() ?? answered(200));
      },
      judge,
      onRetry: ({ result }, _failure, waitMs) => retried.push([result.status, waitMs]),
      now: () => now,
      sleep: (ms) => {
        now += ms;
        return Promise.resolve();
      },
      random: () => 0,
    });
    return { done, timeouts, retried };
  }

  it("retries a 5xx and returns the answer that came next; each call gets what is left of the budget", async () => {
    const { done, timeouts, retried } = run([answered(500), answered(503)], policy);
    expect((await done).outcome).toEqual({ kind: "continue" });
    expect(timeouts).toEqual([1_000, 890, 680]);
    expect(retried).toEqual([
      [500, 100],
      [503, 200],
    ]);
  });

  it("stops after maxRetries + 1 calls and returns the last failure", async () => {
    const { done, timeouts } = run(
      [500, 500, 500, 500, 500].map((c) => answered(c)),
      policy,
      10_000,
    );
    const last = await done;
    expect(timeouts).toHaveLength(4);
    expect(last.outcome).toEqual({
      kind: "failed",
      failure: { ...status(500), detail: "HTTP 500; gave up after 4 calls" },
    });
  });

  it("waits a Retry-After from the answer's headers", async () => {
    const { done, retried } = run([answered(429, { "retry-after": "1" }, 300)], policy);
    expect((await done).outcome).toEqual({ kind: "continue" });
    expect(retried).toEqual([[429, 300]]);
  });

  it("makes a single call when the first failure is not retried", async () => {
    const { done, timeouts } = run([answered(404)], policy);
    expect((await done).outcome.kind).toBe("failed");
    expect(timeouts).toHaveLength(1);
  });
});
