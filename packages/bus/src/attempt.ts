import { randomUUID } from "node:crypto";
import { headers as natsHeaders } from "@nats-io/nats-core";
import type { Bus } from "./connection.js";
import { publishEvent } from "./publish.js";

/**
 * One call to a business server, as the log store keeps it: a before-hook evaluation or a
 * delivery attempt. Published to ATTEMPTS under herald.at.<app>; bodies arrive truncated.
 */
export interface AttemptRecord {
  id: string;
  kind: "before" | "delivery";
  appId: string;
  /** The OpenIM hook key for a before-hook ("beforeSendSingleMsg"). */
  hook?: string;
  endpointId?: string;
  eventId?: string;
  /** Deliveries: `<eventId>:<endpointId>`, the same on every attempt (the receiver's idempotency key). */
  deliveryId?: string;
  /** Deliveries: 1 for the first attempt. */
  attempt?: number;
  /** Deliveries: the event's type ("msg.sent"). */
  eventType?: string;
  /** Deliveries: the endpoint's dialect. */
  dialect?: string;
  /** Deliveries: "event" (routed), "replay" or "test". */
  trigger?: string;
  /**
   * Deliveries: the key whose order this callback kept ("user:u1", "room:r9", "group:g2",
   * `conv:["a","b"]`); absent when the endpoint's ordering is none, and on replays and tests.
   */
  orderingKey?: string;
  /** Deliveries: ms this attempt waited for an earlier callback of its key (0: it did not wait). */
  keyWaitMs?: number;
  /**
   * Dead deliveries: the event, protobuf as base64, so the record alone is enough to replay it
   * (publishDeliveryJob), whatever EVENTS still holds.
   */
  event?: string;
  operationId: string;
  url: string;
  requestBody: string;
  /** 0 when no response came. */
  status: number;
  responseBody: string;
  latencyMs: number;
  /** What Herald did with it: continue, modify, deny, failed_continue, failed_deny, breaker_open… */
  outcome: string;
  error: string;
  at: string;
}

export const ATTEMPT_BODY_LIMIT = 4 * 1024;

export function truncateBody(text: string, limit = ATTEMPT_BODY_LIMIT): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}…[${text.length - limit} more characters]`;
}

const encoder = new TextEncoder();

/**
 * Publishes a record into ATTEMPTS. Core NATS, not a JetStream request: the stream stores it
 * (deduplicated by its id) without the hot path waiting for an acknowledgement, so a record can
 * be lost only while JetStream itself is down; the call it describes never waits for it.
 */
export function publishAttempt(bus: Bus, record: NewAttemptRecord): void {
  const full = completeRecord(record);
  const h = natsHeaders();
  h.set("Nats-Msg-Id", full.id);
  bus.nc.publish(bus.names.subjects.attempt(full.appId), encoder.encode(JSON.stringify(full)), {
    headers: h,
  });
}

/**
 * Publishes a record and waits for JetStream to store it: for the record that is the only trace of
 * a dead delivery, which must not be lost even when the stream is briefly unavailable (throws
 * RetryableError then, and the caller keeps the job).
 */
export async function publishAttemptDurably(bus: Bus, record: NewAttemptRecord): Promise<void> {
  const full = completeRecord(record);
  await publishEvent(bus, bus.names.subjects.attempt(full.appId), encoder.encode(JSON.stringify(full)), {
    msgId: full.id,
  });
}

export type NewAttemptRecord = Omit<AttemptRecord, "id" | "at"> & Partial<AttemptRecord>;

function completeRecord(record: NewAttemptRecord): AttemptRecord {
  return {
    ...record,
    id: record.id ?? randomUUID(),
    at: record.at ?? new Date().toISOString(),
    // Bounded, so that a record fits in one NATS message beside a dead delivery's event (see limits.ts).
    url: truncateBody(record.url),
    requestBody: truncateBody(record.requestBody),
    responseBody: truncateBody(record.responseBody),
    error: truncateBody(record.error),
  };
}
