import { describe, expect, it } from "vitest";
import { RetryableError } from "@herald/runtime";
import { errorReply } from "./errors.js";

/** An error as nats.js throws it when a request got no answer in time. */
function natsTimeout(): Error {
  const err = new Error("timeout");
  err.name = "TimeoutError";
  return err;
}

describe("errorReply", () => {
  it("answers 503 naming the request when NATS did not answer, not a bare internal error", () => {
    expect(errorReply(natsTimeout(), { what: "GET /v1/apps/:appId" })).toEqual({
      status: 503,
      body: {
        error: { code: "unavailable", message: "GET /v1/apps/:appId: NATS did not answer (TimeoutError)" },
      },
    });
    expect(errorReply(new RetryableError("log store busy")).status).toBe(503);
  });

  it("says which request failed and where its cause is for an error nobody classified", () => {
    const { status, body } = errorReply(new TypeError("x is undefined"), { what: "PUT /v1/apps/:appId" });
    expect(status).toBe(500);
    expect(body.error).toEqual({
      code: "internal",
      message:
        "PUT /v1/apps/:appId failed with an internal error (TypeError); its cause is in the gateway's log",
    });
  });
});
