import { Decision, DecisionSource, type BeforeResponse } from "@herald/proto";
import type { BeforeOutcome } from "./dialect.js";
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
      return denyAnswer(source, d);
  }
}

/** The answer to what the business server said (a failed call is failedAnswer's). */
export function outcomeAnswer(outcome: Exclude<BeforeOutcome, { kind: "failed" }>): BeforeAnswer {
  const source = DecisionSource.DECISION_SOURCE_BUSINESS_SERVER;
  switch (outcome.kind) {
    case "continue":
      return plainAnswer(Decision.DECISION_CONTINUE, source);
    case "modify":
      return {
        ...plainAnswer(Decision.DECISION_MODIFY, source),
        payloadJson: JSON.stringify(outcome.payload),
      };
    case "deny":
      return denyAnswer(source, outcome);
    case "drop":
      return plainAnswer(Decision.DECISION_DROP, source);
  }
}

function denyAnswer(source: DecisionSource, why: { errCode: number; errMsg: string; errDlt: string }) {
  const { errCode, errMsg, errDlt } = why;
  return { ...plainAnswer(Decision.DECISION_DENY, source), errCode, errMsg, errDlt };
}
