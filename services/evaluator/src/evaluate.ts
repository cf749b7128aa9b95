import { Decision, DecisionSource, type BeforeRequest, type BeforeResponse } from "@herald/proto";
import {
  beforeBlockOf,
  failedAnswer,
  outcomeAnswer,
  plainAnswer,
  findBeforeHook,
  type BeforeHookSettings,
  type BeforeOutcome,
  type CallbackFailure,
  type HttpRequestSpec,
  type JsonObject,
} from "@herald/dialects";
import type { AppConfig, ConfigView } from "@herald/config";
import type { AttemptRecord } from "@herald/bus";
import {
  NO_TRACE,
  SpanKind,
  endSpan,
  startSpan,
  traceHeaders,
  traceIdOf,
  tracedLogger,
  type Logger,
  type TraceContext,
} from "@herald/runtime";
import type { AppAgents, CallResult, HookProviders } from "@herald/egress";
import type { Breakers } from "./breaker.js";
import { callOut } from "./call-out.js";
import { callWithPolicy } from "./policy.js";
import type { EvaluatorMetrics } from "./metrics.js";

export interface EvaluatorDeps {
  config: ConfigView;
  /** The guarded HTTP pools: each app's calls go through the one its SSRF policy picks. */
  agents: Pick<AppAgents, "forApp">;
  /** The gRPC hook providers' streams, for apps whose block names a provider. */
  providers: Pick<HookProviders, "decide">;
  breakers: Breakers;
  metrics: EvaluatorMetrics;
  log: Logger;
  /** The largest payload_json the answer may carry (largestPayloadBytes), as for the request. */
  maxPayloadBytes: number;
  /** Records the call for the log store; must not throw and must not hold the answer back. */
  recordAttempt: (record: Omit<AttemptRecord, "id" | "at">) => void;
}

type Answer = Pick<BeforeResponse, "decision" | "errCode" | "errMsg" | "errDlt" | "payloadJson" | "source">;

const CONTINUE_DISABLED: Answer = plainAnswer(
  Decision.DECISION_CONTINUE,
  DecisionSource.DECISION_SOURCE_HOOK_DISABLED,
);

/**
 * Answers one before-hook: asks the app's business server (unless the hook's breaker is open)
 * and turns what came back, or did not, into the chat core's decision.
 */
export function createEvaluator(deps: EvaluatorDeps) {
  const { metrics } = deps;
  return async function evaluate(
    req: BeforeRequest,
    deadlineMs: number,
    trace: TraceContext = NO_TRACE,
  ): Promise<BeforeResponse> {
    // The evaluator's span of this hook; each call to the business server is a child of it.
    const { span, ctx } = startSpan(`before-hook ${req.command}`, trace, {
      kind: SpanKind.CONSUMER,
      attributes: { "herald.app_id": req.appId, "herald.operation_id": req.operationId },
    });
    try {
      const answer = await evaluateIn(ctx, req, deadlineMs);
      endSpan(span);
      return answer;
    } catch (err) {
      endSpan(span, err);
      throw err;
    }
  };

  async function evaluateIn(
    trace: TraceContext,
    req: BeforeRequest,
    deadlineMs: number,
  ): Promise<BeforeResponse> {
    const found = findBeforeHook(req.command);
    const settingsOf = (app: AppConfig | undefined): BeforeHookSettings | undefined => {
      const block = found && app && beforeBlockOf(app, found.dialect);
      return block === undefined ? undefined : found?.dialect.hookSettings(block, found.hook);
    };
    // The gateway found the hook enabled; when this view disagrees it may only be behind (a
    // watch lags by a moment after a change), so the bucket itself decides.
    const app = await deps.config.appNow(req.appId, (known) => settingsOf(known)?.enable === true);
    const settings = settingsOf(app);
    if (!found || !app || !settings?.enable) return { ...CONTINUE_DISABLED, operationId: req.operationId };
    const { dialect, hook } = found;
    const block = beforeBlockOf(app, dialect);

    const breaker = deps.breakers.get(`${app.appId}/${hook.key}`);
    let payload: JsonObject;
    try {
      payload = JSON.parse(req.payloadJson) as JsonObject;
    } catch {
      // The gateway checks it; a request that skipped the gateway still gets an answer at once.
      const failure: CallbackFailure = { reason: "body", detail: "payload_json is not JSON" };
      return {
        ...failedAnswer(
          failure,
          settings.policy.failedAction,
          DecisionSource.DECISION_SOURCE_CALLBACK_FAILED,
        ),
        operationId: req.operationId,
      };
    }
    const spec = dialect.render(block, hook, { operationId: req.operationId, payload, now: new Date() });
    const record = (
      status: number,
      responseBody: string,
      latencyMs: number,
      outcome: string,
      error: string,
      url = spec.url,
    ) =>
      deps.recordAttempt({
        kind: "before",
        appId: app.appId,
        hook: hook.key,
        operationId: req.operationId,
        url,
        requestBody: spec.body,
        status,
        responseBody,
        latencyMs,
        outcome,
        error,
        ...traceIdField(trace),
      });

    if (!breaker.allow(app.breaker)) {
      const failure: CallbackFailure = {
        reason: "breaker",
        detail: `breaker open for ${app.appId}/${hook.key}`,
      };
      const out = failedAnswer(
        failure,
        settings.policy.failedAction,
        DecisionSource.DECISION_SOURCE_BREAKER_OPEN,
      );
      metrics.calls.inc({ outcome: "breaker_open" });
      record(0, "", 0, outcomeName(out, "breaker_open"), failure.detail);
      return { ...out, operationId: req.operationId };
    }

    // Leave the gateway a little time to pass the answer on.
    const timeoutMs = Math.min(settings.timeoutMs, Math.max(1, deadlineMs - 50));
    // The hook's policy retries inside the budget; the breaker counts the Before once, by its last call.
    const { result, outcome } = await callWithPolicy({
      policy: settings.policy,
      budgetMs: timeoutMs,
      call: (leftMs) =>
        tracedCall(trace, spec, (traced) =>
          callOut(deps, app, { dialect, hook, block }, req, traced, leftMs),
        ),
      judge: (res): BeforeOutcome => {
        metrics.callSeconds.observe(res.latencyMs / 1000);
        return !res.ok
          ? { kind: "failed", failure: res.failure }
          : !res.bodyIsUtf8
            ? // Read on, it would hand the chat core U+FFFD where the business server meant something else.
              { kind: "failed", failure: { reason: "body", detail: "response is not valid UTF-8" } }
            : withinLimit(
                dialect.interpret(hook, payload, { status: res.status, body: res.body }),
                deps.maxPayloadBytes,
              );
      },
      onRetry: ({ result: res }, failure, waitMs) => {
        metrics.retries.inc();
        const error = `${failure.reason}: ${failure.detail}; retrying in ${waitMs} ms`;
        record(res.status, res.body, res.latencyMs, "retry", error, res.via);
      },
    });
    if (outcome.kind === "failed" && countsAgainstServer(outcome.failure)) breaker.failure(app.breaker);
    else breaker.success();

    let out: Answer;
    let error = "";
    if (outcome.kind === "failed") {
      out = failedAnswer(
        outcome.failure,
        settings.policy.failedAction,
        DecisionSource.DECISION_SOURCE_CALLBACK_FAILED,
      );
      error = `${outcome.failure.reason}: ${outcome.failure.detail}`;
      tracedLogger(deps.log, trace).warn(
        { appId: app.appId, hook: hook.key, operationID: req.operationId, url: spec.url, error },
        "before-hook callback failed",
      );
    } else {
      out = outcomeAnswer(outcome);
    }
    const name = outcomeName(out, outcome.kind === "failed" ? "failed" : outcome.kind);
    metrics.calls.inc({ outcome: name });
    record(result.status, result.body, result.latencyMs, name, error, result.via);
    return { ...out, operationId: req.operationId };
  }
}

/** The attempt record's traceId: the trace the hook's requests carried, when they carried one. */
function traceIdField(trace: TraceContext): { traceId?: string } {
  const traceId = traceIdOf(trace);
  return traceId === "" ? {} : { traceId };
}

/**
 * One call to the business server as a client span of the hook's trace, its `traceparent` sent with
 * the request (a gRPC hook provider gets none: its call has no headers of Herald's to carry it).
 */
async function tracedCall(
  trace: TraceContext,
  spec: HttpRequestSpec,
  call: (spec: HttpRequestSpec) => Promise<CallResult>,
): Promise<CallResult> {
  const { span, ctx } = startSpan(`POST ${hostOf(spec.url)}`, trace, {
    kind: SpanKind.CLIENT,
    attributes: { "http.request.method": spec.method, "url.full": spec.url },
  });
  const result = await call({ ...spec, headers: { ...spec.headers, ...traceHeaders(ctx) } });
  span.setAttribute("http.response.status_code", result.status);
  endSpan(span, result.ok ? undefined : new Error(`${result.failure.reason}: ${result.failure.detail}`));
  return result;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "";
  }
}

// A modification too large for the answer's NATS message would never reach the gateway, which
// would then wait out the timeout: it is a body Herald cannot use, decided here at once.
function withinLimit(outcome: BeforeOutcome, limitBytes: number): BeforeOutcome {
  if (outcome.kind !== "modify") return outcome;
  const bytes = Buffer.byteLength(JSON.stringify(outcome.payload));
  if (bytes <= limitBytes) return outcome;
  const detail = `the modified payload is ${bytes} bytes; at most ${limitBytes} bytes`;
  return { kind: "failed", failure: { reason: "body", detail } };
}

// A server that answered on purpose (actionCode != 0) is up; one that times out, refuses,
// errs or talks nonsense is not. A destination the SSRF guard refused, or a request HTTP cannot
// carry, was never asked and fails at once: no breaker needed.
function countsAgainstServer(failure: CallbackFailure): boolean {
  return failure.reason !== "action" && failure.reason !== "refused" && failure.reason !== "request";
}

function outcomeName(out: Answer, base: string): string {
  if (base !== "failed" && base !== "breaker_open") return base;
  const taken =
    out.decision === Decision.DECISION_DENY
      ? "deny"
      : out.decision === Decision.DECISION_DROP
        ? "drop"
        : "continue";
  return `${base}_${taken}`;
}
