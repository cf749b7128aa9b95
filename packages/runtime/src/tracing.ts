// The one place where Herald's tracing is set up, and the helpers every hop uses to continue a trace.
//
// Contexts are passed by hand (a Delivery's, a job's), never through an async context manager: with
// tracing off that keeps the cost of a message to a header lookup. The W3C propagator works whether
// or not the SDK is loaded: with no SDK the API's tracer is a no-op whose spans carry their parent's
// span context, so a chat core's traceparent still reaches the business server unchanged.

import {
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { Logger } from "./logger.js";

export type TraceContext = Context;
export { ROOT_CONTEXT as NO_TRACE, SpanKind };
export type { Span };

/** The headers that carry a trace, on NATS messages, gRPC metadata and HTTP requests alike. */
export const TRACE_HEADERS = Object.freeze({ parent: "traceparent", state: "tracestate" });

type Carrier = Readonly<Record<string, string | undefined>>;
const propagator = new W3CTraceContextPropagator();
const getter: TextMapGetter<Carrier> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};
const setter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};
const tracer = trace.getTracer("herald");
// Set once startTracing has loaded the SDK; until then spans are never made, only parents passed on.
let enabled = false;
const NO_SPAN = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** The trace a message or request carries (its `traceparent`), or none. */
export function extractTrace(carrier: Carrier | undefined): TraceContext {
  if (carrier?.[TRACE_HEADERS.parent] === undefined) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, carrier, getter);
}

/** Writes `traceparent` (and `tracestate`) of `ctx` into `carrier`; nothing when `ctx` holds no trace. */
export function injectTrace(ctx: TraceContext, carrier: Record<string, string>): Record<string, string> {
  if (trace.getSpanContext(ctx) !== undefined) propagator.inject(ctx, carrier, setter);
  return carrier;
}

/** `traceparent`/`tracestate` of `ctx` as a new record ({} when it holds no trace). */
export function traceHeaders(ctx: TraceContext): Record<string, string> {
  return injectTrace(ctx, {});
}

/** The trace id of `ctx`, "" when it holds none (what the attempt log stores). */
export function traceIdOf(ctx: TraceContext): string {
  const sc = trace.getSpanContext(ctx);
  return sc !== undefined && trace.isSpanContextValid(sc) ? sc.traceId : "";
}

/**
 * A span, child of `parent` (a new trace when it holds none and tracing is on), and the context to
 * continue from it. With tracing off the span is the API's no-op one, carrying `parent`'s ids.
 */
export function startSpan(
  name: string,
  parent: TraceContext,
  opts: { kind?: SpanKind; attributes?: Attributes; links?: Link[] } = {},
): { span: Span; ctx: TraceContext } {
  // Off: no span is made and the parent goes on as it came (a chat core's traceparent unchanged).
  if (!enabled) return { span: trace.getSpan(parent) ?? NO_SPAN, ctx: parent };
  const span = tracer.startSpan(name, opts, parent);
  return { span, ctx: trace.setSpan(parent, span) };
}

/** Whether spans are made and exported (startTracing found an OTLP endpoint). */
export function tracingEnabled(): boolean {
  return enabled;
}

/** Ends a span, marking it failed when `err` is given. */
export function endSpan(span: Span, err?: unknown): void {
  if (err !== undefined) {
    const message = err instanceof Error ? err.message : typeof err === "string" ? err : "failed";
    span.setStatus({ code: SpanStatusCode.ERROR, message });
    if (err instanceof Error) span.recordException(err);
  }
  span.end();
}

/** `trace_id` and `span_id` for a log line, or undefined when `ctx` holds no trace. */
export function traceLogFields(ctx: TraceContext): { trace_id: string; span_id: string } | undefined {
  const sc = trace.getSpanContext(ctx);
  if (sc === undefined || !trace.isSpanContextValid(sc)) return undefined;
  return { trace_id: sc.traceId, span_id: sc.spanId };
}

/** A child of `log` whose lines carry the trace of `ctx` (`log` itself when it holds none). */
export function tracedLogger(log: Logger, ctx: TraceContext): Logger {
  const fields = traceLogFields(ctx);
  return fields === undefined ? log : log.child(fields);
}

export interface TracingEnv {
  OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string | undefined;
  OTEL_SERVICE_NAME?: string | undefined;
}

export interface Tracing {
  readonly enabled: boolean;
  /** Sends the spans in hand and stops exporting. */
  shutdown(): Promise<void>;
}

const OFF: Tracing = { enabled: false, shutdown: () => Promise.resolve() };

/**
 * Exports spans over OTLP (http/protobuf) when OTEL_EXPORTER_OTLP_ENDPOINT (or the traces-only
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; the SDK is loaded only then. Unset: off, and free.
 * The service name is OTEL_SERVICE_NAME, else `herald-<service>`.
 */
export async function startTracing(service: string, env: TracingEnv, log: Logger): Promise<Tracing> {
  const url =
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (env.OTEL_EXPORTER_OTLP_ENDPOINT === undefined
      ? undefined
      : `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, "")}/v1/traces`);
  if (url === undefined) return OFF;
  const [{ TracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, semconv] =
    await Promise.all([
      import("@opentelemetry/sdk-trace"),
      import("@opentelemetry/exporter-trace-otlp-proto"),
      import("@opentelemetry/resources"),
      import("@opentelemetry/semantic-conventions"),
    ]);
  const serviceName = env.OTEL_SERVICE_NAME ?? `herald-${service}`;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ [semconv.ATTR_SERVICE_NAME]: serviceName }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }) })],
  });
  trace.setGlobalTracerProvider(provider);
  enabled = true;
  log.info({ url, serviceName }, "tracing: exporting spans over OTLP");
  return {
    enabled: true,
    shutdown: () => provider.shutdown(),
  };
}
