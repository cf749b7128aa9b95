import { describe, expect, it } from "vitest";
import {
  ConfigError,
  ConflictError,
  HeraldError,
  NotFoundError,
  RetryableError,
  TerminalError,
  ValidationError,
  deadlineTimeout,
  ensureError,
  isRetryable,
  retryDelayMs,
} from "./index.js";

describe("error classes", () => {
  it("carry name, code, cause and their typed fields", () => {
    const cause = new Error("socket hang up");
    const validation = new ValidationError("bad user id", { field: "userIDList", index: 2, cause });
    expect(validation).toBeInstanceOf(HeraldError);
    expect(validation).toMatchObject({
      name: "ValidationError",
      code: "validation",
      field: "userIDList",
      index: 2,
    });
    expect(validation.cause).toBe(cause);

    expect(new NotFoundError("no such app", { resource: "app", id: "app1" })).toMatchObject({
      name: "NotFoundError",
      code: "not_found",
      resource: "app",
      id: "app1",
    });
    expect(new ConflictError("revision moved")).toMatchObject({ name: "ConflictError", code: "conflict" });
    expect(new TerminalError("401 from endpoint")).toMatchObject({ name: "TerminalError", code: "terminal" });
    expect(new RetryableError("503", { retryAfterMs: 3000 })).toMatchObject({
      name: "RetryableError",
      code: "retryable",
      retryAfterMs: 3000,
    });
    expect(new ConfigError("bad port", { field: "HTTP_PORT" })).toMatchObject({
      name: "ConfigError",
      code: "config",
      field: "HTTP_PORT",
    });
    expect("cause" in new TerminalError("no cause given")).toBe(false);
  });

  it("let a subclass rename itself", () => {
    class EndpointGoneError extends TerminalError {
      override name = "EndpointGoneError";
    }
    const err = new EndpointGoneError("410 Gone");
    expect(err.name).toBe("EndpointGoneError");
    expect(isRetryable(err)).toBe(false);
  });
});

describe("isRetryable", () => {
  it.each([
    ["RetryableError", new RetryableError("try later"), true],
    ["an unclassified Error", new Error("ECONNRESET"), true],
    ["a thrown string", "boom", true],
    ["TerminalError", new TerminalError("never"), false],
    ["ValidationError", new ValidationError("bad", { field: "x" }), false],
    ["NotFoundError", new NotFoundError("gone", { resource: "room", id: "r1" }), false],
    ["ConflictError", new ConflictError("lost race"), false],
    ["ConfigError", new ConfigError("bad", { field: "NATS_URL" }), false],
  ])("%s -> %s", (_label, err, expected) => {
    expect(isRetryable(err)).toBe(expected);
  });
});

describe("retryDelayMs", () => {
  it("reads retryAfterMs from a RetryableError only", () => {
    expect(retryDelayMs(new RetryableError("429", { retryAfterMs: 1500 }))).toBe(1500);
    expect(retryDelayMs(new RetryableError("503"))).toBeUndefined();
    expect(retryDelayMs(new TerminalError("401"))).toBeUndefined();
    expect(retryDelayMs(new Error("reset"))).toBeUndefined();
  });
});

describe("ensureError", () => {
  it("returns Errors unchanged and wraps anything else", () => {
    const original = new TerminalError("kept");
    expect(ensureError(original)).toBe(original);
    expect(ensureError({ code: 7 }).message).toBe('{"code":7}');
    expect(ensureError("plain text").message).toBe("plain text");
    expect(ensureError(undefined).message).toBe("undefined");
    const circular: Record<string, unknown> = {};
    circular["self"] = circular;
    expect(ensureError(circular).message).toBe("[object Object]");
    expect(ensureError(42n).cause).toBe(42n);
  });
});

describe("deadlineTimeout", () => {
  it("passes through work that settles in time", async () => {
    await expect(deadlineTimeout(Promise.resolve("done"), 1000, "lookup")).resolves.toBe("done");
    await expect(deadlineTimeout(Promise.reject(new TerminalError("no")), 1000, "lookup")).rejects.toThrow(
      TerminalError,
    );
  });

  it("rejects with a retryable plain Error naming the work when it does not", async () => {
    const never = new Promise<never>(() => {});
    const err: unknown = await deadlineTimeout(never, 10, "endpoint call").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(HeraldError);
    expect((err as Error).message).toBe("endpoint call did not finish within 10 ms");
    expect(isRetryable(err)).toBe(true);
  });
});
