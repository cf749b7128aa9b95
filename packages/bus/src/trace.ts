// Traces over NATS: a message carries its trace as W3C `traceparent`/`tracestate` headers, the same
// names as on HTTP, so a trace crosses the bus exactly as it crosses a request.

import { NO_TRACE, TRACE_HEADERS, extractTrace, traceHeaders, type TraceContext } from "@herald/runtime";
import type { MsgHdrs } from "@nats-io/nats-core";

/** The trace a NATS message carries (NO_TRACE when none). */
export function messageTrace(h: MsgHdrs | undefined): TraceContext {
  const parent = h?.get(TRACE_HEADERS.parent);
  if (parent === undefined || parent === "") return NO_TRACE;
  const state = h?.get(TRACE_HEADERS.state);
  return extractTrace(
    state === undefined || state === ""
      ? { [TRACE_HEADERS.parent]: parent }
      : { [TRACE_HEADERS.parent]: parent, [TRACE_HEADERS.state]: state },
  );
}

/**
 * The trace headers of a NATS message as they are, for a message that continues its trace without a
 * hop of its own (a derived event: the trace of the event it came from); undefined when it has none.
 */
export function traceHeaderValues(h: MsgHdrs | undefined): Record<string, string> | undefined {
  const parent = h?.get(TRACE_HEADERS.parent);
  if (parent === undefined || parent === "") return undefined;
  const state = h?.get(TRACE_HEADERS.state);
  return state === undefined || state === ""
    ? { [TRACE_HEADERS.parent]: parent }
    : { [TRACE_HEADERS.parent]: parent, [TRACE_HEADERS.state]: state };
}

/** Sets the trace headers of `ctx` on NATS headers; nothing when it holds no trace. */
export function setTraceHeaders(h: MsgHdrs, ctx: TraceContext | undefined): void {
  if (ctx === undefined || ctx === NO_TRACE) return;
  for (const [key, value] of Object.entries(traceHeaders(ctx))) h.set(key, value);
}
