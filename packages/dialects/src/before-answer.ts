import { Decision, type BeforeResponse, type DecisionSource } from "@herald/proto";
import { decideFailure, type CallbackFailure } from "./openim/failure.js";
import type { FailedAction } from "./hook-policy.js";

/** A Before answer without its operation id: what gateway and evaluator decide. */
export type BeforeAnswer = Omit<BeforeResponse, "operationId">;

/** An answer with no error and no payload. */
export function plainAnswer(decision: Decision, source: DecisionSource): BeforeAnswer {
  return { decision, source, errCode: 0, errMsg: "", errDlt: "", payloadJson: "" };
}

/** The answer to a callback that failed for good: the hook's failedAction, a deny carrying Herald's code. */
export function failedAnswer(
  failure: CallbackFailure,
  action: FailedAction,
  source: DecisionSource,
): BeforeAnswer {
  const d = decideFailure(failure, action);
  switch (d.kind) {
    case "continue":
      return plainAnswer(Decision.DECISION_CONTINUE, source);
    case "drop":
      return plainAnswer(Decision.DECISION_DROP, source);
    case "deny":
      return {
        ...plainAnswer(Decision.DECISION_DENY, source),
        errCode: d.errCode,
        errMsg: d.errMsg,
        errDlt: d.errDlt,
      };
  }
}
