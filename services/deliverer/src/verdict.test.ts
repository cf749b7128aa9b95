import { describe, expect, it } from "vitest";
import { judgeAttempt, MAX_RETRY_AFTER_MS } from "./verdict.js";
import type { AttemptResult } from "./verdict.js";

const schedule = { scheduleMs: [100, 1000], jitter: 0 };
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
      expect(judgeAttempt({ dialect: "openim", retry: schedule }, 1, answered(status))).toEqual({
        kind: "delivered",
      });
    }
  });

  it("retries on the schedule, then gives up", () => {
    const endpoint = { dialect: "openim" as const, retry: schedule };
    expect(judgeAttempt(endpoint, 1, answered(500))).toMatchObject({ kind: "retry", delayMs: 100 });
    expect(judgeAttempt(endpoint, 2, failed("timeout"))).toMatchObject({ kind: "retry", delayMs: 1000 });
    expect(judgeAttempt(endpoint, 3, answered(503))).toMatchObject({
      kind: "dead",
      error: "HTTP 503 (out of attempts: 3)",
    });
  });

  it("treats 3xx as a failure (redirects are not followed)", () => {
    expect(judgeAttempt({ dialect: "standard", retry: schedule }, 1, answered(302))).toMatchObject({
      kind: "retry",
    });
  });

  it("honours Retry-After when it asks for longer than the schedule, up to a day", () => {
    const endpoint = { dialect: "standard" as const, retry: schedule };
    expect(judgeAttempt(endpoint, 1, answered(429, 5000))).toMatchObject({ delayMs: 5000 });
    expect(judgeAttempt(endpoint, 1, answered(429, 10))).toMatchObject({ delayMs: 100 });
    expect(judgeAttempt(endpoint, 1, answered(503, 10 * MAX_RETRY_AFTER_MS))).toMatchObject({
      delayMs: MAX_RETRY_AFTER_MS,
    });
  });

  it("jitters within ±jitter of the schedule", () => {
    const endpoint = { dialect: "standard" as const, retry: { scheduleMs: [1000], jitter: 0.2 } };
    expect(judgeAttempt(endpoint, 1, answered(500), () => 0)).toMatchObject({ delayMs: 800 });
    expect(judgeAttempt(endpoint, 1, answered(500), () => 1)).toMatchObject({ delayMs: 1200 });
  });

  it("disables mqttchat at once when unreachable or answered 401/403", () => {
    const endpoint = { dialect: "mqttchat" as const, retry: schedule };
    expect(judgeAttempt(endpoint, 1, failed("network", "connection refused"))).toEqual({
      kind: "dead",
      error: "network: connection refused",
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
    expect(judgeAttempt({ dialect: "standard", retry: schedule }, 1, answered(410))).toMatchObject({
      kind: "dead",
      disable: "answered HTTP 410 Gone",
    });
    expect(judgeAttempt({ dialect: "standard", retry: schedule }, 1, answered(401))).toMatchObject({
      kind: "retry",
    });
    expect(judgeAttempt({ dialect: "openim", retry: schedule }, 1, answered(410))).toMatchObject({
      kind: "retry",
    });
  });

  it("kills a delivery to a refused destination at once, and disables an mqttchat URL for it", () => {
    expect(
      judgeAttempt({ dialect: "standard", retry: schedule }, 1, failed("refused", "127.0.0.1 is loopback")),
    ).toEqual({
      kind: "dead",
      error: "refused: 127.0.0.1 is loopback",
    });
    expect(
      judgeAttempt({ dialect: "mqttchat", retry: schedule }, 1, failed("refused", "10.0.0.1 is private")),
    ).toMatchObject({
      kind: "dead",
      disable: "destination refused: refused: 10.0.0.1 is private",
    });
  });

  it("kills a request HTTP cannot carry at once, without disabling the endpoint", () => {
    for (const dialect of ["mqttchat", "standard", "openim", "rongcloud"] as const) {
      expect(
        judgeAttempt(
          { dialect, retry: schedule },
          1,
          failed("request", "header x: its value has characters"),
        ),
      ).toEqual({ kind: "dead", error: "request: header x: its value has characters" });
    }
  });
});
