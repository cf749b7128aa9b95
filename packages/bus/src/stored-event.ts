// Where an Event is stored in EVENTS: its lane, its partition, its copies.

import { Event, eventLane, partitionKey, reachesEveryPartition } from "@herald/proto";
import { SpanKind, endSpan, startSpan, type TraceContext } from "@herald/runtime";
import type { Bus } from "./connection.js";
import { partitionOf } from "./partitions.js";
import { publishEvent } from "./publish.js";
import type { PublishResult } from "./publish.js";

/** Set on the per-partition copies of an event that reaches every partition; holds the original's partition. */
export const COPY_HEADER = "Herald-Copy";

/** One message that stores (part of) an event. */
export interface StoredCopy {
  subject: string;
  msgId: string;
  /** Present on copies only: the original is the message without it. */
  headers?: Record<string, string>;
}

/** The partition of an event: its key's, in this deployment's layout. */
export function eventPartition(bus: Bus, event: Event): number {
  return partitionOf(event.appId, partitionKey(event), bus.layout.partitions);
}

/** The subject an event is stored under (the original's, for one that reaches every partition). */
export function eventSubject(bus: Bus, event: Event): string {
  return bus.names.subjects.event({
    lane: eventLane(event),
    partition: eventPartition(bus, event),
    appId: event.appId,
    type: event.type,
  });
}

/**
 * The messages that store an event, with `msgId` as the original's Nats-Msg-Id: one, or for an event
 * that reaches every partition (node.reset) the original in its key's partition and a copy in each
 * other one (Nats-Msg-Id `<msgId>#<partition>`, header Herald-Copy). Delivery and the log take the
 * original only; the projection of each partition folds whichever is in its partition.
 */
export function storedCopies(bus: Bus, event: Event, msgId: string): StoredCopy[] {
  const home = eventPartition(bus, event);
  const subject = (partition: number) =>
    bus.names.subjects.event({ lane: eventLane(event), partition, appId: event.appId, type: event.type });
  const copies: StoredCopy[] = [{ subject: subject(home), msgId }];
  if (!reachesEveryPartition(event)) return copies;
  for (let p = 0; p < bus.layout.partitions; p++) {
    if (p !== home)
      copies.push({ subject: subject(p), msgId: `${msgId}#${p}`, headers: { [COPY_HEADER]: String(home) } });
  }
  return copies;
}

/** True for a per-partition copy (see storedCopies), which delivery and the log skip. */
export function isCopy(headers: Record<string, string> | undefined): boolean {
  return headers?.[COPY_HEADER] !== undefined;
}

/**
 * Stores an event and its copies, resolving with the original's ack once every message is stored.
 * Copies go out together with the original (pipelined), not one after another.
 */
export async function storeEvent(
  bus: Bus,
  event: Event,
  opts: { msgId: string; timeoutMs?: number; data?: Uint8Array; trace?: TraceContext },
): Promise<PublishResult> {
  const data = opts.data ?? Event.encode(event).finish();
  // The bus hop's span: its context is what the event carries on to the router, the projections and the log.
  const { span, ctx } =
    opts.trace === undefined
      ? { span: undefined, ctx: undefined }
      : startSpan(`publish ${bus.names.streams.events}`, opts.trace, {
          kind: SpanKind.PRODUCER,
          attributes: {
            "messaging.system": "nats",
            "herald.app_id": event.appId,
            "herald.event_id": event.id,
          },
        });
  try {
    const acks = await Promise.all(
      storedCopies(bus, event, opts.msgId).map((c) =>
        publishEvent(bus, c.subject, data, {
          msgId: c.msgId,
          ...(c.headers === undefined ? {} : { headers: c.headers }),
          ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
          ...(ctx === undefined ? {} : { trace: ctx }),
        }),
      ),
    );
    if (span !== undefined) endSpan(span);
    return acks[0] as PublishResult;
  } catch (err) {
    if (span !== undefined) endSpan(span, err);
    throw err;
  }
}
