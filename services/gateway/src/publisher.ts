import { Event, type PublishResult } from "@herald/proto";
import type { TraceContext } from "@herald/runtime";
import { appScopedMsgId, largestPayloadBytes, messageLimitBytes, storeEvent, type Bus } from "@herald/bus";
import { checkSize, normalizeBatch } from "./events.js";
import type { KnownApps } from "./known-apps.js";

export interface PublisherOptions {
  bus: Bus;
  maxBatch: number;
  publishTimeoutMs: number;
  knownApps: KnownApps;
}

/**
 * Validates a batch whole (sizes included, and that each event's app is configured), then stores
 * each event in EVENTS in its lane and partition (storeEvent) with Nats-Msg-Id `<appId>:<eventId>`, so ids deduplicate within an app only.
 * A node.reset's per-partition copies are stored together with it. Resolves only once JetStream has
 * acknowledged every message. A failure part-way leaves part of the batch stored; sending it again
 * is safe because ids (and the copies' `<id>#<partition>`) deduplicate.
 */
export function createPublisher(opts: PublisherOptions) {
  const { bus } = opts;
  return async function publishBatch(
    events: readonly Event[],
    trace?: TraceContext,
  ): Promise<PublishResult[]> {
    const ready = normalizeBatch(events, opts.maxBatch);
    const limit = largestPayloadBytes(messageLimitBytes(bus));
    const encoded = ready.map((event, index) => {
      const bytes = Event.encode(event).finish();
      checkSize(`events[${index}]`, bytes.length, limit, index);
      return { event, bytes };
    });
    await opts.knownApps.checkBatch(ready);
    return Promise.all(
      encoded.map(async ({ event, bytes }): Promise<PublishResult> => {
        const ack = await storeEvent(bus, event, {
          msgId: appScopedMsgId(event.appId, event.id),
          timeoutMs: opts.publishTimeoutMs,
          data: bytes,
          ...(trace === undefined ? {} : { trace }),
        });
        return { eventId: event.id, streamSeq: ack.seq, duplicate: ack.duplicate };
      }),
    );
  };
}

export type PublishBatch = ReturnType<typeof createPublisher>;
