import { describe, expect, it } from "vitest";
import { RetryableError, ValidationError } from "@herald/runtime";
import { isNatsUnanswered, natsUnanswered } from "./nats-errors.js";

function named(name: string, message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

describe("natsUnanswered", () => {
  it("turns a NATS that gave no answer into a RetryableError naming what was asked", () => {
    const timeout = named("TimeoutError", "timeout");
    const err = natsUnanswered(timeout, "reading chatroom state");
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as Error).message).toBe("reading chatroom state: NATS did not answer (TimeoutError)");
    expect((err as Error).cause).toBe(timeout);
    expect(isNatsUnanswered(named("RequestError", "503 no responders"))).toBe(true);
    expect(isNatsUnanswered(named("ClosedConnectionError", "closed connection"))).toBe(true);
  });

  it("leaves every other error as it is, whatever its message says", () => {
    const invalid = new ValidationError("timeout: must be 1-60 seconds", { field: "timeout" });
    expect(natsUnanswered(invalid, "PUT /v1/apps/:appId")).toBe(invalid);
    expect(isNatsUnanswered(new Error("request timed out"))).toBe(false);
    expect(isNatsUnanswered(named("JetStreamApiError", "stream not found"))).toBe(false);
  });
});
