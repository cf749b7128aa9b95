import { randomUUID } from "node:crypto";
import type { Bus } from "./connection.js";
import type { Delivery } from "./consume.js";
import { appScopedMsgId } from "./names.js";
import { publishEvent } from "./publish.js";
import type { PublishResult } from "./publish.js";

/**
 * A delivery job is the event's own protobuf bytes on herald.dl.<app>.<endpoint> (a retry: on the
 * endpoint's retry lane), with its bookkeeping in headers, so routing copies bytes and never re-encodes.
 */
export const JOB_HEADERS = Object.freeze({
  /** `<eventId>:<endpointId>`: the same on every attempt and replay; the receiver's idempotency key. */
  deliveryId: "Herald-Delivery-Id",
  eventId: "Herald-Event-Id",
  eventType: "Herald-Event-Type",
  /** Attempts already made (absent: none). */
  attempts: "Herald-Attempts",
  /** Epoch ms before which the next attempt must not start (retry lane). */
  notBefore: "Herald-Not-Before",
  /** "event" (routed), "replay" or "test" (admin API). */
  trigger: "Herald-Trigger",
});

export type JobTrigger = "event" | "replay" | "test";

export interface Job {
  appId: string;
  endpointId: string;
  deliveryId: string;
  eventId: string;
  eventType: string;
  attemptsMade: number;
  notBefore: number;
  trigger: JobTrigger;
  /** The Event, protobuf-encoded. */
  event: Uint8Array;
}

export function deliveryIdOf(eventId: string, endpointId: string): string {
  return `${eventId}:${endpointId}`;
}

/** Headers of a job, for a publish; Nats-Msg-Id is the caller's (it differs between lanes and replays). */
export function jobHeaders(job: Omit<Job, "appId" | "endpointId" | "event">): Record<string, string> {
  const headers: Record<string, string> = {
    [JOB_HEADERS.deliveryId]: job.deliveryId,
    [JOB_HEADERS.eventId]: job.eventId,
    [JOB_HEADERS.eventType]: job.eventType,
  };
  if (job.attemptsMade > 0) headers[JOB_HEADERS.attempts] = String(job.attemptsMade);
  if (job.notBefore > 0) headers[JOB_HEADERS.notBefore] = String(job.notBefore);
  if (job.trigger !== "event") headers[JOB_HEADERS.trigger] = job.trigger;
  return headers;
}

/** Reads a job; undefined when its headers are not a job's (published by something else). */
export function readJob(d: Delivery, appId: string, endpointId: string): Job | undefined {
  const h = d.headers;
  const deliveryId = h[JOB_HEADERS.deliveryId];
  const eventId = h[JOB_HEADERS.eventId];
  const eventType = h[JOB_HEADERS.eventType];
  if (deliveryId === undefined || eventId === undefined || eventType === undefined) return undefined;
  const trigger = h[JOB_HEADERS.trigger] ?? "event";
  return {
    appId,
    endpointId,
    deliveryId,
    eventId,
    eventType,
    attemptsMade: nonNegativeInt(h[JOB_HEADERS.attempts]),
    notBefore: nonNegativeInt(h[JOB_HEADERS.notBefore]),
    trigger: trigger === "replay" || trigger === "test" ? trigger : "event",
    event: d.data,
  };
}

function nonNegativeInt(text: string | undefined): number {
  const n = Number(text ?? 0);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/**
 * Writes the first job of a delivery: routed from an event (Nats-Msg-Id `<appId>:<deliveryId>`, so
 * routing twice makes one job, and two apps' events and endpoints with the same ids make two), or a
 * replay / test from the admin API (a fresh Nats-Msg-Id, so it is never mistaken for the original,
 * while the delivery id the receiver sees stays the same).
 */
export function publishDeliveryJob(
  bus: Bus,
  job: Omit<Job, "deliveryId" | "attemptsMade" | "notBefore"> & { deliveryId?: string },
): Promise<PublishResult> {
  const deliveryId = job.deliveryId ?? deliveryIdOf(job.eventId, job.endpointId);
  const msgId =
    job.trigger === "event"
      ? appScopedMsgId(job.appId, deliveryId)
      : `${job.trigger}:${deliveryId}:${randomUUID()}`;
  return publishEvent(bus, bus.names.subjects.delivery(job.appId, job.endpointId), job.event, {
    msgId,
    headers: jobHeaders({ ...job, deliveryId, attemptsMade: 0, notBefore: 0 }),
  });
}
