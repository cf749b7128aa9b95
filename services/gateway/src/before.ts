import { createHash, randomUUID } from "node:crypto";
import { BeforeRequest, BeforeResponse, Decision, DecisionSource, Event } from "@herald/proto";
import {
  RpcUnavailableError,
  largestPayloadBytes,
  messageLimitBytes,
  requestRpc,
  type Bus,
} from "@herald/bus";
import { beforeBlockOf, failedAnswer, findBeforeHook, plainAnswer } from "@herald/dialects";
import { NO_TRACE, ValidationError, tracedLogger, type Logger, type TraceContext } from "@herald/runtime";
import { validateBefore } from "./events.js";
import type { GatewayMetrics } from "./metrics.js";
import type { KnownApps } from "./known-apps.js";
import type { PublishBatch } from "./publisher.js";

export interface BeforeHandlerOptions {
  bus: Bus;
  knownApps: KnownApps;
  log: Logger;
  metrics: GatewayMetrics;
  /** The Publish path: an async hook's call is stored through it, as an event, before the answer. */
  publish: PublishBatch;
  /** Time over the hook's timeout that the gateway waits for the evaluator's answer. */
  answerMarginMs: number;
  /** An evaluator in this process (BEFORE_EVALUATION=local): asked directly instead of over NATS. */
  local?: (req: BeforeRequest, deadlineMs: number, trace: TraceContext) => Promise<BeforeResponse>;
}

/**
 * The gateway's half of a before-hook: refuses an app configured nowhere (NOT_FOUND naming app_id);
 * answers at once, with no hop, when the hook is off or the message is filtered out by config; for an
 * async hook stores its call as an event (delivered by the app's implied endpoint) and then continues;
 * otherwise asks an evaluator within the hook's timeout, and when none answers lets the hook's
 * failedAction decide, as for any failed callback.
 */
export function createBeforeHandler(opts: BeforeHandlerOptions) {
  const { bus, metrics } = opts;
  return async function before(req: BeforeRequest, trace: TraceContext = NO_TRACE): Promise<BeforeResponse> {
    const payload = validateBefore(req, largestPayloadBytes(messageLimitBytes(bus)));
    const found = findBeforeHook(req.command);
    if (found === undefined) {
      throw new ValidationError(`command: "${req.command}" is not a callback command of any dialect`, {
        field: "command",
      });
    }
    const { dialect, hook } = found;
    if (hook.kind !== "before") {
      throw new ValidationError(`command: ${req.command} is an after-hook; publish it as an event`, {
        field: "command",
      });
    }
    const app = await opts.knownApps.app(req.appId, "app_id");
    const operationId = req.operationId === "" ? randomUUID() : req.operationId;
    const block = app && beforeBlockOf(app, dialect);
    const settings = block === undefined ? undefined : dialect.hookSettings(block, hook);
    const done = (res: Omit<BeforeResponse, "operationId">) => {
      metrics.before.inc({ source: DecisionSource[res.source], decision: Decision[res.decision] });
      return { ...res, operationId };
    };
    if (!settings?.enable) {
      return done(plainAnswer(Decision.DECISION_CONTINUE, DecisionSource.DECISION_SOURCE_HOOK_DISABLED));
    }
    if (dialect.filteredOut?.(block, hook, payload) !== undefined) {
      return done(plainAnswer(Decision.DECISION_CONTINUE, DecisionSource.DECISION_SOURCE_TYPE_FILTERED));
    }
    const asyncCommand = settings.policy.async ? dialect.asyncCommand?.(block, hook) : undefined;
    if (asyncCommand !== undefined) {
      // Stored before the answer: once the chat core goes on, the call is owed and must not be lost.
      await opts.publish([asyncCallEvent(req, operationId, asyncCommand)], trace);
      return done(plainAnswer(Decision.DECISION_CONTINUE, DecisionSource.DECISION_SOURCE_ASYNC));
    }

    const timeoutMs = settings.timeoutMs + opts.answerMarginMs;
    if (opts.local !== undefined) return done(await opts.local({ ...req, operationId }, timeoutMs, trace));
    try {
      const answer = await requestRpc(
        bus,
        bus.names.subjects.before(req.appId, hook.subjectToken),
        BeforeRequest.encode({ ...req, operationId }).finish(),
        { timeoutMs, trace },
      );
      return done(BeforeResponse.decode(answer));
    } catch (err) {
      if (!(err instanceof RpcUnavailableError)) throw err;
      tracedLogger(opts.log, trace).warn(
        { appId: req.appId, hook: hook.key, operationID: operationId, reason: err.reason },
        "no evaluator answered the before-hook",
      );
      const failure = { reason: "unavailable", detail: err.message } as const;
      return done(
        failedAnswer(failure, settings.policy.failedAction, DecisionSource.DECISION_SOURCE_CALLBACK_FAILED),
      );
    }
  };
}

/**
 * An async hook's call as a passthrough event: the chat core's payload as it sent it, under the Before
 * answer's operationId, so the business server's operationID matches what the chat core was told. Its
 * id is the request's digest: a Before the chat core sends again (same operationId and payload) is
 * stored once, within the stream's duplicate window, and the business server called once.
 */
function asyncCallEvent(req: BeforeRequest, operationId: string, command: string): Event {
  const digest = createHash("sha256")
    .update(JSON.stringify([req.command, operationId, req.payloadJson]))
    .digest("hex");
  return Event.fromPartial({
    id: `before-${digest}`,
    appId: req.appId,
    operationId,
    payload: { $case: "passthrough", value: { command, payloadJson: req.payloadJson } },
  });
}

export type BeforeHandler = ReturnType<typeof createBeforeHandler>;
