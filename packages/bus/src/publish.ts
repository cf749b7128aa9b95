import { RetryableError, TerminalError, ensureError } from "@herald/runtime";
import { JetStreamApiError } from "@nats-io/jetstream";
import { InvalidArgumentError, headers as natsHeaders } from "@nats-io/nats-core";
import type { TraceContext } from "@herald/runtime";
import type { Bus } from "./connection.js";
import { setTraceHeaders } from "./trace.js";

export interface PublishEventOptions {
  /** Stored as Nats-Msg-Id: a repeat within the stream's duplicate window is stored once. */
  msgId: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** The trace the message continues: its `traceparent` goes in the headers. */
  trace?: TraceContext;
}

export interface PublishResult {
  seq: number;
  duplicate: boolean;
  stream: string;
}

/**
 * Publishes to JetStream and waits for the stream's ack. Failures that a later try may cure
 * (timeouts, no stream or server reachable, 503s) become RetryableError; a request the stream
 * refuses for good (e.g. too large) becomes TerminalError.
 */
export async function publishEvent(
  bus: Bus,
  subject: string,
  data: Uint8Array,
  opts: PublishEventOptions,
): Promise<PublishResult> {
  const h = natsHeaders();
  for (const [key, value] of Object.entries(opts.headers ?? {})) h.set(key, value);
  setTraceHeaders(h, opts.trace);
  try {
    const ack = await bus.js.publish(subject, data, {
      msgID: opts.msgId,
      headers: h,
      ...(opts.timeoutMs === undefined ? {} : { timeout: opts.timeoutMs }),
    });
    return { seq: ack.seq, duplicate: ack.duplicate, stream: ack.stream };
  } catch (thrown) {
    const err = ensureError(thrown);
    const message = `publish to ${subject} failed: ${err.message}`;
    if (isRefusedForGood(err)) throw new TerminalError(message, { cause: err });
    throw new RetryableError(message, { cause: err });
  }
}

function isRefusedForGood(err: Error): boolean {
  // 503 is "JetStream temporarily unavailable"; other API statuses (400, 413...) will not change on retry.
  if (err instanceof JetStreamApiError) return err.status !== 503;
  return err instanceof InvalidArgumentError;
}
