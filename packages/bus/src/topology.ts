import { DiscardPolicy, JetStreamApiError, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { JetStreamManager, StreamConfig, StreamInfo } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { nanos } from "@nats-io/nats-core";
import { DEFAULT_EVENT_DEDUP_WINDOW_MS } from "@herald/runtime";
import type { Bus } from "./connection.js";
import type { BusNames } from "./names.js";
import { DEFAULT_PARTITIONS, checkPartitions } from "./partitions.js";

export interface TopologyOptions {
  replicas: number;
  /**
   * Partitions of EVENTS. Taken when the stream is created (default 16); afterwards the stream's
   * own count holds, and asking for another one fails (partitions change only by a rebuild).
   */
  partitions?: number;
  /**
   * Window in which a repeated event id of an app is stored once in EVENTS (EVENT_DEDUP_WINDOW,
   * default 10 min). An existing stream is updated to it.
   */
  eventDedupWindowMs?: number;
  /** How long EVENTS keeps events (default 0: forever, they are the source of truth). */
  eventsMaxAgeMs?: number;
  /** How long an unfinished delivery job may wait (default 7 days). */
  deliveriesMaxAgeMs?: number;
  /** How long attempt records wait for the log store (default 7 days). */
  attemptsMaxAgeMs?: number;
}

/** The fields of a stream that Herald declares; everything else is the server's default. */
export type StreamDeclaration = Pick<
  StreamConfig,
  | "name"
  | "subjects"
  | "storage"
  | "retention"
  | "discard"
  | "max_age"
  | "duplicate_window"
  | "num_replicas"
  | "description"
>;

/**
 * EVENTS was laid out otherwise than this Herald needs: by the layout before partitions
 * (herald.ev.<app>.<type>), or with another partition count than asked for.
 */
export class EventsLayoutError extends Error {
  override readonly name = "EventsLayoutError";
  constructor(
    readonly stream: string,
    message: string,
  ) {
    super(message);
  }
}

/** A stream exists with a setting the server cannot change in place (storage, retention). */
export class TopologyDriftError extends Error {
  override readonly name = "TopologyDriftError";
  constructor(
    readonly stream: string,
    readonly field: string,
    options?: ErrorOptions,
  ) {
    super(`stream ${stream} has a different ${field} than declared and cannot be updated in place`, options);
  }
}

const MINUTE_MS = 60_000;
// DELIVERIES and ATTEMPTS: their ids guard Herald's own re-sends (a batch routed again after a failure
// or a takeover, a retry stored before its original was acked, a record sent again), which come within
// seconds; a longer window there would only hold more ids, jobs being as many as events times endpoints.
const INTERNAL_DUPLICATE_WINDOW_MS = 2 * MINUTE_MS;
const DAY_MS = 24 * 60 * MINUTE_MS;
const CONFIG_HISTORY = 5;
// Presence keeps only the current state of each key; EVENTS is its history.
const PRESENCE_HISTORY = 1;
// Chatroom state likewise: EVENTS is the history of every room.
const ROOMS_HISTORY = 1;
// Leases and checkpoints: only the current value counts.
const DELIVERY_HISTORY = 1;
// JetStream API error codes (nats-server errors.json).
const STREAM_NOT_FOUND = 10059;
const STREAM_NAME_IN_USE = 10058;

export function streamConfigs(names: BusNames, opts: TopologyOptions): StreamDeclaration[] {
  const common = {
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: opts.replicas,
    duplicate_window: nanos(INTERNAL_DUPLICATE_WINDOW_MS),
  };
  return [
    {
      ...common,
      name: names.streams.events,
      duplicate_window: nanos(opts.eventDedupWindowMs ?? DEFAULT_EVENT_DEDUP_WINDOW_MS),
      description: eventsDescription(checkPartitions(opts.partitions ?? DEFAULT_PARTITIONS)),
      subjects: [names.subjects.events()],
      retention: RetentionPolicy.Limits,
      max_age: nanos(opts.eventsMaxAgeMs ?? 0),
    },
    {
      ...common,
      name: names.streams.deliveries,
      subjects: [names.subjects.jobs(), names.subjects.legacyJobs()],
      // A job is work: once acked (or termed) it is gone, so the stream holds only the backlog.
      retention: RetentionPolicy.Workqueue,
      max_age: nanos(opts.deliveriesMaxAgeMs ?? 7 * DAY_MS),
    },
    {
      ...common,
      name: names.streams.attempts,
      subjects: [names.subjects.attempts()],
      retention: RetentionPolicy.Limits,
      max_age: nanos(opts.attemptsMaxAgeMs ?? 7 * DAY_MS),
    },
  ];
}

/** Creates or updates every stream and the CONFIG, PRESENCE, ROOMS and DELIVERY buckets; safe to run from several services at once. */
export async function applyTopology(bus: Bus, opts: TopologyOptions): Promise<void> {
  const jsm = await bus.jsm();
  for (const declared of streamConfigs(bus.names, opts)) {
    await ensureStream(jsm, declared, bus);
  }
  bus.layout.learn(await ensureEventsLayout(jsm, bus, opts.partitions));
  await ensureBucket(bus, bus.names.buckets.config, CONFIG_HISTORY, opts);
  await ensureBucket(bus, bus.names.buckets.presence, PRESENCE_HISTORY, opts);
  await ensureBucket(bus, bus.names.buckets.rooms, ROOMS_HISTORY, opts);
  await ensureBucket(bus, bus.names.buckets.delivery, DELIVERY_HISTORY, opts);
}

async function ensureStream(jsm: JetStreamManager, declared: StreamDeclaration, bus: Bus): Promise<void> {
  // Two tries: a concurrent starter may create the stream between our info and our add.
  for (let attempt = 1; ; attempt++) {
    const existing = await streamInfo(jsm, declared.name);
    if (existing === undefined) {
      try {
        await jsm.streams.add(declared);
        bus.log.info({ stream: declared.name }, "stream created");
        return;
      } catch (err) {
        if (attempt < 2 && isApiError(err, STREAM_NAME_IN_USE)) continue;
        throw err;
      }
    }
    const drift = streamDrift(existing.config, declared);
    if (drift.length === 0) return;
    for (const fixed of ["storage", "retention"] as const) {
      if (drift.includes(fixed)) throw new TopologyDriftError(declared.name, fixed);
    }
    await jsm.streams.update(declared.name, {
      subjects: declared.subjects,
      discard: declared.discard,
      max_age: declared.max_age,
      duplicate_window: declared.duplicate_window,
      num_replicas: declared.num_replicas,
    });
    bus.log.info({ stream: declared.name, drift }, "stream updated");
    return;
  }
}

// The layout is written in the stream's description (nats-server 2.9 has no stream metadata).
const LAYOUT = /^Herald events, layout 2, (\d+) partitions\b/;

function eventsDescription(partitions: number): string {
  return `Herald events, layout 2, ${partitions} partitions (herald.ev.<lane>.<partition>.<app>.<type>)`;
}

/** The partition count EVENTS is laid out with; marks an empty stream of no layout with the one asked for. */
async function ensureEventsLayout(
  jsm: JetStreamManager,
  bus: Bus,
  requested: number | undefined,
): Promise<number> {
  const name = bus.names.streams.events;
  for (let attempt = 1; ; attempt++) {
    const info = await jsm.streams.info(name);
    const found = LAYOUT.exec(info.config.description ?? "");
    if (found !== null) {
      const partitions = Number(found[1]);
      if (requested !== undefined && requested !== partitions) {
        throw new EventsLayoutError(
          name,
          `stream ${name} is laid out in ${partitions} partitions, but HERALD_PARTITIONS asks for ${requested}: ` +
            "partitions change only by a rebuild into a new namespace (see the README, Subjects and partitions)",
        );
      }
      return partitions;
    }
    if (info.state.messages > 0) {
      throw new EventsLayoutError(
        name,
        `stream ${name} holds ${info.state.messages} events stored by a Herald before partitions ` +
          "(herald.ev.<app>.<type>); this Herald reads herald.ev.<lane>.<partition>.<app>.<type> and will not " +
          "mix the two: start it in a new HERALD_NAMESPACE, or delete the old streams and buckets (see the README, Subjects and partitions)",
      );
    }
    if (attempt > 2)
      throw new EventsLayoutError(name, `stream ${name} has no layout and could not be given one`);
    // An empty stream of an older Herald (or created by hand): give it this layout.
    await jsm.streams.update(name, {
      ...info.config,
      description: eventsDescription(checkPartitions(requested ?? DEFAULT_PARTITIONS)),
    });
    bus.log.info({ stream: name }, "empty EVENTS stream given the partitioned layout");
  }
}

/** Names of the declared fields whose live value differs. */
export function streamDrift(live: StreamConfig, declared: StreamDeclaration): string[] {
  const drift: string[] = [];
  const sameSubjects =
    live.subjects.length === declared.subjects.length &&
    [...live.subjects].sort().every((s, i) => s === [...declared.subjects].sort()[i]);
  if (!sameSubjects) drift.push("subjects");
  for (const field of [
    "storage",
    "retention",
    "discard",
    "max_age",
    "duplicate_window",
    "num_replicas",
  ] as const) {
    if (live[field] !== declared[field]) drift.push(field);
  }
  return drift;
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (isApiError(err, STREAM_NOT_FOUND)) return undefined;
    throw err;
  }
}

async function ensureBucket(bus: Bus, bucket: string, history: number, opts: TopologyOptions): Promise<void> {
  // Kvm.create opens an existing bucket as is, so history/replica drift is fixed on its stream below.
  await new Kvm(bus.js).create(bucket, { history, replicas: opts.replicas });
  const jsm = await bus.jsm();
  const stream = `KV_${bucket}`;
  const { config } = await jsm.streams.info(stream);
  if (config.max_msgs_per_subject !== history || config.num_replicas !== opts.replicas) {
    await jsm.streams.update(stream, { max_msgs_per_subject: history, num_replicas: opts.replicas });
    bus.log.info({ bucket }, "KV bucket updated");
  }
}

export function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}
