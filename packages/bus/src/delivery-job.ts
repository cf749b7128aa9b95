import { randomUUID } from "node:crypto";
import { TRACE_HEADERS, extractTrace, injectTrace, type TraceContext } from "@herald/runtime";
import type { Bus } from "./connection.js";
import type { Delivery } from "./consume.js";
import { appScopedMsgId } from "./names.js";
import { partitionOf } from "./partitions.js";
import { publishEvent } from "./publish.js";
import type { PublishResult } from "./publish.js";
import { publishMany, type OutgoingMessage } from "./publish-many.js";

/**
 * A delivery job is the event's own protobuf bytes on herald.job.<partition>.<app>.<endpoint>, with
 * its bookkeeping in headers, so routing copies bytes and never re-encodes. The partition is that of
 * its ordering key, so all of a key's jobs (its retries too) are sent by one deliverer at a time.
 */
export const JOB_HEADERS = Object.freeze({
  /** `<eventId>:<endpointId>`: the same on every attempt and replay; the receiver's idempotency key. */
  deliveryId: "Herald-Delivery-Id",
  eventId: "Herald-Event-Id",
  eventType: "Herald-Event-Type",
  /** Attempts already made (absent: none). */
  attempts: "Herald-Attempts",
  /** Epoch ms before which the next attempt must not start (a retry). */
  notBefore: "Herald-Not-Before",
  /** "event" (routed), "replay" or "test" (admin API). */
  trigger: "Herald-Trigger",
  /** The ordering key ("user:u1"), percent-encoded: user ids may be any Unicode. */
  key: "Herald-Key",
  /** The event's EVENTS sequence: the job's place among the jobs of its key (absent: none). */
  order: "Herald-Order",
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
  /** The ordering key of the event ("user:u1", "room:r1", `conv:["a","b"]`); "" for replays and tests. */
  key: string;
  /** The event's EVENTS sequence, which orders the jobs of one key; 0 for replays and tests. */
  order: number;
  /** The Event, protobuf-encoded. */
  event: Uint8Array;
  /** The trace the job continues (its event's), carried as `traceparent`/`tracestate` headers. */
  trace?: TraceContext;
}

export function deliveryIdOf(eventId: string, endpointId: string): string {
  return `${eventId}:${endpointId}`;
}

/** The partition a job is stored in: its key's, or (no key) its delivery id's. */
export function jobPartition(bus: Bus, job: Pick<Job, "appId" | "key" | "deliveryId">): number {
  return partitionOf(job.appId, job.key === "" ? job.deliveryId : job.key, bus.layout.partitions);
}

/** Headers of a job, for a publish; Nats-Msg-Id is the caller's (it differs between retries and replays). */
export function jobHeaders(job: Omit<Job, "appId" | "endpointId" | "event">): Record<string, string> {
  const headers: Record<string, string> = {
    [JOB_HEADERS.deliveryId]: job.deliveryId,
    [JOB_HEADERS.eventId]: job.eventId,
    [JOB_HEADERS.eventType]: job.eventType,
  };
  if (job.attemptsMade > 0) headers[JOB_HEADERS.attempts] = String(job.attemptsMade);
  if (job.notBefore > 0) headers[JOB_HEADERS.notBefore] = String(job.notBefore);
  if (job.trigger !== "event") headers[JOB_HEADERS.trigger] = job.trigger;
  if (job.key !== "") headers[JOB_HEADERS.key] = encodeURIComponent(job.key);
  if (job.order > 0) headers[JOB_HEADERS.order] = String(job.order);
  if (job.trace !== undefined) injectTrace(job.trace, headers);
  return headers;
}

/**
 * Reads a job from its headers; undefined when they are not a job's (published by something else).
 * The app and endpoint are the subject's: herald.job.<partition>.<app>.<endpoint>, or the layout
 * before partitions, herald.dl.<app>.<endpoint>[.retry].
 */
export function readJob(d: Pick<Delivery, "subject" | "headers" | "data">): Job | undefined {
  const h = d.headers;
  const deliveryId = h[JOB_HEADERS.deliveryId];
  const eventId = h[JOB_HEADERS.eventId];
  const eventType = h[JOB_HEADERS.eventType];
  if (deliveryId === undefined || eventId === undefined || eventType === undefined) return undefined;
  const place = jobPlace(d.subject);
  if (place === undefined) return undefined;
  const trigger = h[JOB_HEADERS.trigger] ?? "event";
  let key = "";
  try {
    key = decodeURIComponent(h[JOB_HEADERS.key] ?? "");
  } catch {
    return undefined;
  }
  return {
    ...place,
    deliveryId,
    eventId,
    eventType,
    attemptsMade: nonNegativeInt(h[JOB_HEADERS.attempts]),
    notBefore: nonNegativeInt(h[JOB_HEADERS.notBefore]),
    trigger: trigger === "replay" || trigger === "test" ? trigger : "event",
    key,
    order: nonNegativeInt(h[JOB_HEADERS.order]),
    event: d.data,
    ...(h[TRACE_HEADERS.parent] === undefined ? {} : { trace: extractTrace(h) }),
  };
}

// The app and endpoint of a job's subject. The root is "herald" or "<namespace>.herald" (a
// namespace is one token), so the kind of subject is always the token after "herald".
function jobPlace(subject: string): { appId: string; endpointId: string } | undefined {
  const tokens = subject.split(".");
  const root = tokens[1] === "herald" ? 1 : 0;
  if (tokens[root] !== "herald") return undefined;
  const kind = tokens[root + 1];
  const rest = tokens.slice(root + 2);
  if (kind === "job" && rest.length === 3) {
    const [, appId, endpointId] = rest as [string, string, string];
    return { appId, endpointId };
  }
  // herald.dl.<app>.<endpoint>[.retry]: the layout before partitions, read only to move it.
  if (kind === "dl" && (rest.length === 2 || (rest.length === 3 && rest[2] === "retry"))) {
    const [appId, endpointId] = rest as [string, string];
    return { appId, endpointId };
  }
  return undefined;
}

function nonNegativeInt(text: string | undefined): number {
  const n = Number(text ?? 0);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/** A job as a message for publishMany, in the partition of its key; `msgId` as publishDeliveryJob's. */
export function jobMessage(bus: Bus, job: Job, msgId: string): OutgoingMessage {
  return {
    subject: bus.names.subjects.job(jobPartition(bus, job), job.appId, job.endpointId),
    data: job.event,
    msgId,
    headers: jobHeaders(job),
  };
}

/** The Nats-Msg-Id of a routed job: routing an event twice makes one job, and two apps' ids stay apart. */
export function routedJobMsgId(job: Pick<Job, "appId" | "deliveryId">): string {
  return appScopedMsgId(job.appId, job.deliveryId);
}

/** The first job of a replay or a test send, as publishDeliveryJob and publishDeliveryJobs take it. */
export type OperatorJob = Omit<
  Job,
  "deliveryId" | "attemptsMade" | "notBefore" | "trigger" | "key" | "order"
> & {
  deliveryId?: string;
  trigger: "replay" | "test";
};

/**
 * The first job of a replay or a test send from the admin API as a message: a fresh Nats-Msg-Id, so
 * it is never mistaken for the original, while the delivery id the receiver sees stays the same.
 * Neither is ordered (no key): a replay goes out whenever it is asked for, and says so (trigger
 * "replay").
 */
function operatorJobMessage(bus: Bus, job: OperatorJob): OutgoingMessage & { msgId: string } {
  const deliveryId = job.deliveryId ?? deliveryIdOf(job.eventId, job.endpointId);
  const full: Job = { ...job, deliveryId, attemptsMade: 0, notBefore: 0, key: "", order: 0 };
  const msgId = `${job.trigger}:${deliveryId}:${randomUUID()}`;
  return { ...jobMessage(bus, full, msgId), msgId };
}

/** Writes one operator job (see operatorJobMessage). */
export function publishDeliveryJob(bus: Bus, job: OperatorJob): Promise<PublishResult> {
  const m = operatorJobMessage(bus, job);
  return publishEvent(bus, m.subject, m.data, { msgId: m.msgId, headers: m.headers });
}

/** Writes many operator jobs pipelined (no round trip awaited per job); resolves when all are stored. */
export async function publishDeliveryJobs(bus: Bus, jobs: readonly OperatorJob[]): Promise<number> {
  const acks = await publishMany(
    bus,
    jobs.map((job) => operatorJobMessage(bus, job)),
  );
  return acks.length;
}
