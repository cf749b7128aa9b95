import { ValidationError } from "@herald/runtime";

/** Every stream, bucket and subject name Herald uses, derived from one optional namespace. */
export interface BusNames {
  readonly namespace: string;
  readonly streams: { readonly events: string; readonly deliveries: string; readonly attempts: string };
  readonly buckets: {
    readonly config: string;
    readonly presence: string;
    readonly rooms: string;
    /** The deliverer's partition leases and routing checkpoints. */
    readonly delivery: string;
  };
  readonly subjects: {
    /**
     * herald.ev.<lane>.<partition>.<app>.<type>; the type may be dotted ("conn.online"). The lane
     * and partition come first, so one consumer can take exactly one lane of one partition.
     */
    event(at: EventAddress): string;
    /** herald.ev.> (every event), or herald.ev.*.*.<app>.> (every event of one app). */
    events(appId?: string): string;
    /** herald.ev.<lane>.> or herald.ev.<lane>.<partition>.>: what a projection's consumer reads. */
    lane(lane: string, partition?: number): string;
    /** herald.ev.*.<partition>.>: every lane of one partition (what the deliverer routes). */
    partition(partition: number): string;
    /** The address of a stored event's subject, or undefined when it is not one. */
    parseEvent(subject: string): EventAddress | undefined;
    /**
     * herald.job.<partition>.<app>.<endpoint>: a delivery job (fresh or a retry) in the partition of
     * its ordering key, so one deliverer at a time sends a key's callbacks.
     */
    job(partition: number, appId: string, endpointId: string): string;
    /** herald.job.> (every job), or herald.job.<partition>.> (what one partition's consumer reads). */
    jobs(partition?: number): string;
    /** herald.dl.>: jobs of the layout before partitions (one consumer pair per endpoint), read only to move them. */
    legacyJobs(): string;
    /** herald.at.<app> */
    attempt(appId: string): string;
    /** herald.at.> */
    attempts(): string;
    /** herald.before.<app>.<command> */
    before(appId: string, command: string): string;
    /** herald.before.> */
    befores(): string;
    /** herald.worker.<instance>: one request/reply worker process, asked whether it is still there. */
    worker(instanceId: string): string;
  };
}

/** Where an event is stored: its lane, partition, app and type. */
export interface EventAddress {
  lane: string;
  partition: number;
  appId: string;
  type: string;
}

const NAMESPACE_PATTERN = /^[a-z0-9]{1,12}$/;
// Subject tokens must not split (.), match (* >) or break the protocol line (whitespace).
const FORBIDDEN_IN_TOKEN = /[.*>\s]/;

/** True when `s` can stand as one subject token: non-empty, no '.', '*', '>' or whitespace. */
export function isSubjectToken(s: string): boolean {
  return s.length > 0 && !FORBIDDEN_IN_TOKEN.test(s);
}

function token(field: string, value: string): string {
  if (!isSubjectToken(value)) {
    throw new ValidationError(`${field} is not a valid subject token: ${JSON.stringify(value)}`, {
      field,
    });
  }
  return value;
}

// An event type is one or more tokens joined by '.', e.g. "conn.online".
function dottedTokens(field: string, value: string): string {
  if (!value.split(".").every(isSubjectToken)) {
    throw new ValidationError(`${field} is not a valid dotted subject: ${JSON.stringify(value)}`, { field });
  }
  return value;
}

function partitionToken(partition: number): string {
  if (!Number.isInteger(partition) || partition < 0 || partition > 9999) {
    throw new ValidationError(`partition must be an integer 0-9999, got ${partition}`, {
      field: "partition",
    });
  }
  return String(partition);
}

/** Names for one installation; `namespace` ("" by default) lets several share one NATS. */
export function busNames(namespace = ""): BusNames {
  if (namespace !== "" && !NAMESPACE_PATTERN.test(namespace)) {
    throw new ValidationError(
      `namespace must match ${NAMESPACE_PATTERN.source}: ${JSON.stringify(namespace)}`,
      {
        field: "namespace",
      },
    );
  }
  const stream = (base: string): string => (namespace === "" ? base : `${namespace}_${base}`);
  const root = namespace === "" ? "herald" : `${namespace}.herald`;
  return {
    namespace,
    streams: { events: stream("EVENTS"), deliveries: stream("DELIVERIES"), attempts: stream("ATTEMPTS") },
    buckets: {
      config: stream("CONFIG"),
      presence: stream("PRESENCE"),
      rooms: stream("ROOMS"),
      delivery: stream("DELIVERY"),
    },
    subjects: {
      event: ({ lane, partition, appId, type }) =>
        `${root}.ev.${token("lane", lane)}.${partitionToken(partition)}.${token("appId", appId)}.${dottedTokens("type", type)}`,
      events: (appId) => (appId === undefined ? `${root}.ev.>` : `${root}.ev.*.*.${token("appId", appId)}.>`),
      lane: (lane, partition) =>
        partition === undefined
          ? `${root}.ev.${token("lane", lane)}.>`
          : `${root}.ev.${token("lane", lane)}.${partitionToken(partition)}.>`,
      partition: (partition) => `${root}.ev.*.${partitionToken(partition)}.>`,
      parseEvent: (subject) => {
        const prefix = `${root}.ev.`;
        if (!subject.startsWith(prefix)) return undefined;
        const [lane, partition, appId, ...type] = subject.slice(prefix.length).split(".");
        if (lane === undefined || appId === undefined || type.length === 0) return undefined;
        if (!/^\d{1,4}$/.test(partition ?? "")) return undefined;
        return { lane, partition: Number(partition), appId, type: type.join(".") };
      },
      job: (partition, appId, endpointId) =>
        `${root}.job.${partitionToken(partition)}.${token("appId", appId)}.${token("endpointId", endpointId)}`,
      jobs: (partition) =>
        partition === undefined ? `${root}.job.>` : `${root}.job.${partitionToken(partition)}.>`,
      legacyJobs: () => `${root}.dl.>`,
      attempt: (appId) => `${root}.at.${token("appId", appId)}`,
      attempts: () => `${root}.at.>`,
      before: (appId, command) => `${root}.before.${token("appId", appId)}.${token("command", command)}`,
      befores: () => `${root}.before.>`,
      worker: (instanceId) => `${root}.worker.${token("instanceId", instanceId)}`,
    },
  };
}

/**
 * The Nats-Msg-Id of what the chat core names: an event in EVENTS, a routed job of it in DELIVERIES.
 * Its ids are unique within an app only, so the app is part of the key; app ids have no ':', so the
 * two parts never run into each other.
 */
export function appScopedMsgId(appId: string, eventId: string): string {
  return `${appId}:${eventId}`;
}
