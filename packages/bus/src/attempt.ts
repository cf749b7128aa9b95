import { randomUUID } from "node:crypto";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { publishEvent } from "./publish.js";
import { messageLimitBytes, type Bus } from "./connection.js";

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
  /** The trace id the request carried in its `traceparent` (absent: none). */
  traceId?: string;
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

/** What may stay in one ATTEMPTS message besides a batch's records: the headers and the brackets. */
const BATCH_HEADROOM_BYTES = 4 * 1024;

/**
 * Records for a hot path: collected for `lingerMs` and published as one JSON array per app, so a
 * thousand before-hooks a second cost ATTEMPTS (and NATS, and the log store) tens of messages, not a
 * thousand. Like publishAttempt it never waits for JetStream; a record also waits up to `lingerMs`
 * in this process, so a process killed outright loses at most that window's records (flush() sends
 * the rest on shutdown). Records of deliveries that must not be lost go through publishAttemptDurably.
 */
export class AttemptRecorder {
  readonly #bus: Bus;
  readonly #lingerMs: number;
  readonly #limitBytes: number;
  readonly #onError: (err: unknown, appId: string) => void;
  readonly #pending = new Map<string, NewAttemptRecord[]>();
  #timer: NodeJS.Timeout | undefined;

  constructor(bus: Bus, opts: { lingerMs: number; onError: (err: unknown, appId: string) => void }) {
    this.#bus = bus;
    this.#lingerMs = opts.lingerMs;
    this.#limitBytes = messageLimitBytes(bus) - BATCH_HEADROOM_BYTES;
    this.#onError = opts.onError;
  }

  /** Keeps the record for the next batch; the work of encoding it is done then, off the caller's path. */
  record(record: NewAttemptRecord): void {
    const id = record.id ?? randomUUID();
    const at = record.at ?? new Date().toISOString();
    const batch = this.#pending.get(record.appId);
    if (batch === undefined) this.#pending.set(record.appId, [{ ...record, id, at }]);
    else batch.push({ ...record, id, at });
    this.#timer ??= setTimeout(() => this.flush(), this.#lingerMs).unref();
  }

  /** Publishes every record collected so far, in as few messages as NATS's limit allows. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const [appId, records] of this.#pending) {
      let parts: string[] = [];
      let bytes = 0;
      for (const record of records) {
        const json = JSON.stringify(completeRecord(record));
        const size = Buffer.byteLength(json) + 1;
        if (parts.length > 0 && bytes + size > this.#limitBytes) {
          this.#send(appId, parts);
          parts = [];
          bytes = 0;
        }
        parts.push(json);
        bytes += size;
      }
      this.#send(appId, parts);
    }
    this.#pending.clear();
  }

  #send(appId: string, parts: string[]): void {
    try {
      const h = natsHeaders();
      h.set("Nats-Msg-Id", randomUUID());
      this.#bus.nc.publish(this.#bus.names.subjects.attempt(appId), encoder.encode(`[${parts.join(",")}]`), {
        headers: h,
      });
    } catch (err) {
      this.#onError(err, appId);
    }
  }
}

/** The records of one ATTEMPTS message: a record (publishAttempt) or a batch of them (AttemptRecorder). */
export function decodeAttemptRecords(data: Uint8Array): unknown[] {
  const parsed: unknown = JSON.parse(decoder.decode(data));
  return Array.isArray(parsed) ? parsed : [parsed];
}

const decoder = new TextDecoder();

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
