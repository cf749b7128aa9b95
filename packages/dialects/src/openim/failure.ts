import type { FailedAction } from "../hook-policy.js";

export type CallbackFailure =
  /** Decided by the caller, which does the I/O. */
  | { reason: "timeout" | "network"; detail: string }
  /** The SSRF guard refused the destination's address: nothing was sent. */
  | { reason: "refused"; detail: string }
  /** A URL or header value HTTP cannot carry: nothing was sent. */
  | { reason: "request"; detail: string }
  /** A non-2xx HTTP status. */
  | { reason: "status"; status: number; detail: string }
  /** Not a JSON object, or a field of the wrong type. */
  | { reason: "body"; detail: string }
  /** The business server answered actionCode != 0. */
  | { reason: "action"; actionCode: number; detail: string }
  /** The caller's breaker for this hook is open. */
  | { reason: "breaker"; detail: string }
  /** No evaluator answered (the gateway decides this). */
  | { reason: "unavailable"; detail: string };

/** OpenIM's own codes for the same failures: ErrNetwork and ErrData. */
export const HERALD_CALLBACK_ERRORS: { readonly network: 90004; readonly data: 90007 } = Object.freeze({
  network: 90004,
  data: 90007,
});

export type FailureDecision =
  { kind: "continue" } | { kind: "drop" } | { kind: "deny"; errCode: number; errMsg: string; errDlt: string };

/**
 * The one place that turns a failed callback into the hook's failedAction: continue, drop, or a deny with
 * Herald's code.
 */
export function decideFailure(failure: CallbackFailure, failedAction: FailedAction): FailureDecision {
  if (failedAction === "continue") return { kind: "continue" };
  if (failedAction === "drop") return { kind: "drop" };
  return {
    kind: "deny",
    errCode: failureErrorCode(failure),
    errMsg: `callback failed: ${failure.reason}`,
    errDlt: failure.detail,
  };
}

function failureErrorCode(failure: CallbackFailure): number {
  switch (failure.reason) {
    case "timeout":
    case "network":
    case "refused":
    case "breaker":
    case "unavailable":
      return HERALD_CALLBACK_ERRORS.network;
    case "status":
    case "body":
    case "request":
    case "action":
      return HERALD_CALLBACK_ERRORS.data;
  }
}
