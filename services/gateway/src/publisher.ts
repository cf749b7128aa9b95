import { Event, type PublishResult } from "@herald/proto";
import { publishEvent, type Bus } from "@herald/bus";
import { normalizeBatch } from "./events.js";

export interface PublisherOptions {
  bus: Bus;
  maxBatch: number;
  publishTimeoutMs: number;
}

/**
 * Validates a batch whole, then stores each event in EVENTS under herald.ev.<app>.<type> with
 * Nats-Msg-Id = event id. Resolves only once JetStream has acknowledged every event. A failure
 * part-way leaves part of the batch stored; sending it again is safe because ids deduplicate.
 */
export function createPublisher(opts: PublisherOptions) {
  const { bus } = opts;
  return async function publishBatch(events: readonly Event[]): Promise<PublishResult[]> {
    const ready = normalizeBatch(events, opts.maxBatch);
    return Promise.all(
      ready.map(async (event): Promise<PublishResult> => {
        const ack = await publishEvent(
          bus,
          bus.names.subjects.event(event.appId, event.type),
          Event.encode(event).finish(),
          { msgId: event.id, timeoutMs: opts.publishTimeoutMs },
        );
        return { eventId: event.id, streamSeq: ack.seq, duplicate: ack.duplicate };
      }),
    );
  };
}

export type PublishBatch = ReturnType<typeof createPublisher>;
