import { describe, expect, it } from "vitest";
import { HERALD_CALLBACK_ERRORS, decideFailure, type CallbackFailure } from "./failure.js";

describe("decideFailure", () => {
  const failures: Array<[CallbackFailure, number]> = [
    [{ reason: "timeout", detail: "no answer in 5000 ms" }, 90004],
    [{ reason: "network", detail: "ECONNREFUSED" }, 90004],
    [{ reason: "refused", detail: "destination h refused: 10.0.0.1 is in the private range" }, 90004],
    [{ reason: "breaker", detail: "open" }, 90004],
    [{ reason: "unavailable", detail: "no evaluator" }, 90004],
    [{ reason: "status", status: 500, detail: "HTTP 500: {}" }, 90007],
    [{ reason: "body", detail: "response is not a JSON object" }, 90007],
    [{ reason: "action", actionCode: 1, detail: "actionCode 1: " }, 90007],
  ];

  it.each(failures)("continues on %o when failedContinue", (failure) => {
    expect(decideFailure(failure, "continue")).toStrictEqual({ kind: "continue" });
  });

  it.each(failures)("denies %o with code %i without failedContinue", (failure, errCode) => {
    expect(decideFailure(failure, "deny")).toStrictEqual({
      kind: "deny",
      errCode,
      errMsg: `callback failed: ${failure.reason}`,
      errDlt: failure.detail,
    });
  });

  it("uses OpenIM's ErrNetwork and ErrData codes", () => {
    expect(HERALD_CALLBACK_ERRORS).toStrictEqual({ network: 90004, data: 90007 });
  });
});
