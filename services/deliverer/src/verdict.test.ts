import { DIALECTS, dialectOf } from "@herald/dialects";
import type { Dialect } from "@herald/dialects";
import { describe, expect, it } from "vitest";
import { judgeAttempt, MAX_RETRY_AFTER_MS } from "./verdict.js";
import type { AttemptResult } from "./verdict.js";

const schedule = { scheduleMs: [100, 1000], jitter: 0 };

/** An endpoint of `dialect` with its registry's disable rules and a short schedule. */
function endpointOf(dialect: Dialect, retry = schedule) {
  const { disableOn } = dialectOf(dialect).defaults;
  return {
    retry,
    disableOn: { ...disableOn, statuses: disableOn.statuses.map(([a, b]): [number, number] => [a, b]) },
  };
}
const answered = (status: number, retryAfterMs?: number): AttemptResult => ({
  ok: true,
  status,
  body: "",
  latencyMs: 1,
  retryAfterMs,
});
const failed = (reason: string, detail = "x"): AttemptResult => ({
  ok: false,
  status: 0,
  body: "",
  latencyMs: 1,
  failure: { reason, detail },
});

describe("judgeAttempt", () => {
  it("delivers on any 2xx", () => {
    for (const status of [200, 201, 204, 299]) {
      expect(judgeAttempt(endpointOf("openim"), 1, answered(status))).toEqual({
        kind: "delivered",
      });
    }
  });

  it("retries on the schedule, then gives up", () => {
    const endpoint = endpointOf("openim");
    expect(judgeAttempt(endpoint, 1, answered(500))).toMatchObject({ kind: "retry", delayMs: 100 });
    expect(judgeAttempt(endpoint, 2, failed("timeout"))).toMatchObject({ kind: "retry", delayMs: 1000 });
    expect(judgeAttempt(endpoint, 3, answered(503))).toMatchObject({
      kind: "dead",
      error: "HTTP 503 (out of attempts: 3)",
    });
  });

  it("treats 3xx as a failure (redirects are not followed)", () => {
    expect(judgeAttempt(endpointOf("standard"), 1, answered(302))).toMatchObject({
      kind: "retry",
    });
  });

  it("honours Retry-After when it asks for longer than the schedule, up to a day", () => {
    const endpoint = endpointOf("standard");
    expect(judgeAttempt(endpoint, 1, answered(429, 5000))).toMatchObject({ delayMs: 5000 });
    expect(judgeAttempt(endpoint, 1, answered(429, 10))).toMatchObject({ delayMs: 100 });
    expect(judgeAttempt(endpoint, 1, answered(503, 10 * MAX_RETRY_AFTER_MS))).toMatchObject({
      delayMs: MAX_RETRY_AFTER_MS,
    });
  });

  it("jitters within ±jitter of the schedule", () => {
    const endpoint = endpointOf("standard", { scheduleMs: [1000], jitter: 0.2 });
    expect(judgeAttempt(endpoint, 1, answered(500), {}, () => 0)).toMatchObject({ delayMs: 800 });
    expect(judgeAttempt(endpoint, 1, answered(500), {}, () => 1)).toMatchObject({ delayMs: 1200 });
  });

  it('disables mqttchat on 4xx but 408 and 429 (seed 000: "401, 403 etc.")', () => {
    const endpoint = endpointOf("mqttchat");
    for (const status of [400, 404, 405, 409, 410, 422, 451, 499]) {
      expect(judgeAttempt(endpoint, 1, answered(status))).toMatchObject({
        kind: "dead",
        disable: status === 410 ? "answered HTTP 410 Gone" : `answered HTTP ${status}`,
      });
    }
    for (const status of [408, 429, 500, 503, 302]) {
      expect(judgeAttempt(endpoint, 1, answered(status))).toMatchObject({ kind: "retry" });
    }
  });

  it("disables mqttchat after 3 timeouts in a row, and retries the ones before", () => {
    const endpoint = endpointOf("mqttchat");
    expect(judgeAttempt(endpoint, 1, failed("timeout"), { timeoutsInARow: 2 })).toMatchObject({
      kind: "retry",
    });
    expect(judgeAttempt(endpoint, 1, failed("timeout", "after 200 ms"), { timeoutsInARow: 3 })).toEqual({
      kind: "dead",
      // The dead delivery's record says why it was not retried.
      error: "timeout: after 200 ms (endpoint disabled: no answer: 3 timeouts in a row)",
      disable: "no answer: 3 timeouts in a row",
    });
    // Other dialects retry however many timeouts came.
    expect(judgeAttempt(endpointOf("openim"), 1, failed("timeout"), { timeoutsInARow: 99 })).toMatchObject({
      kind: "retry",
    });
  });

  it("retries a 2xx whose body the dialect reads as a refusal", () => {
    expect(
      judgeAttempt(endpointOf("openim"), 1, answered(200), { refusal: "ErrorCode 1: no" }),
    ).toMatchObject({ kind: "retry", error: "HTTP 200: ErrorCode 1: no" });
  });

  it("disables mqttchat at once when unreachable or answered 401/403", () => {
    const endpoint = endpointOf("mqttchat");
    expect(judgeAttempt(endpoint, 1, failed("network", "connection refused"))).toEqual({
      kind: "dead",
      error: "network: connection refused (endpoint disabled: unreachable: connection refused)",
      disable: "unreachable: connection refused",
    });
    expect(judgeAttempt(endpoint, 1, answered(401))).toMatchObject({
      kind: "dead",
      disable: "answered HTTP 401",
    });
    expect(judgeAttempt(endpoint, 1, answered(403))).toMatchObject({
      kind: "dead",
      disable: "answered HTTP 403",
    });
    expect(judgeAttempt(endpoint, 1, failed("timeout"))).toMatchObject({ kind: "retry" });
    expect(judgeAttempt(endpoint, 1, answered(500))).toMatchObject({ kind: "retry" });
  });

  it("disables standard on 410 only; other dialects retry a 410", () => {
    expect(judgeAttempt(endpointOf("standard"), 1, answered(410))).toMatchObject({
      kind: "dead",
      disable: "answered HTTP 410 Gone",
    });
    expect(judgeAttempt(endpointOf("standard"), 1, answered(401))).toMatchObject({
      kind: "retry",
    });
    expect(judgeAttempt(endpointOf("openim"), 1, answered(410))).toMatchObject({
      kind: "retry",
    });
  });

  it("kills a delivery to a refused destination at once, and disables an mqttchat URL for it", () => {
    expect(judgeAttempt(endpointOf("standard"), 1, failed("refused", "127.0.0.1 is loopback"))).toEqual({
      kind: "dead",
      error: "refused: 127.0.0.1 is loopback",
    });
    expect(judgeAttempt(endpointOf("mqttchat"), 1, failed("refused", "10.0.0.1 is private"))).toMatchObject({
      kind: "dead",
      disable: "destination refused: refused: 10.0.0.1 is private",
    });
  });

  it("kills a request HTTP cannot carry at once, without disabling the endpoint", () => {
    for (const dialect of DIALECTS) {
      expect(
        judgeAttempt(endpointOf(dialect), 1, failed("request", "header x: its value has characters")),
      ).toEqual({ kind: "dead", error: "request: header x: its value has characters" });
    }
  });
});
