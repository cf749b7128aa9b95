// What the projection benchmarks share: events stored straight into EVENTS the way the gateway
// stores them (lane, partition, per-partition copies), and the floor, a plain durable that only
// acks the same messages.
import { AckPolicy, type ConsumerMessages } from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import { appScopedMsgId, applyTopology, connectBus, storedCopies, type Bus } from "@herald/bus";
import { Event, eventType, type DeepPartial } from "@herald/proto";
import { createLogger } from "@herald/runtime";
import { ms } from "./stats.js";

/** An event as the gateway stores it: typed and encoded once, so Herald and the floor get the same bytes. */
export interface StoredEvent {
  event: Event;
  data: Uint8Array;
}

/** The highest stream sequence stored per `<lane>.<partition>`: what a projection's checkpoints must reach. */
export type LastStored = Map<string, number>;

export const laneKey = (lane: string, partition: number): string => `${lane}.${partition}`;

const IN_FLIGHT = 512; // publishes awaiting their ack
export const FLOOR_DURABLE = "floor";

export function storedEvent(partial: DeepPartial<Event>): StoredEvent {
  const event = Event.fromPartial(partial);
  event.type = eventType(event);
  return { event, data: Event.encode(event).finish() };
}

/**
 * A bus of the benchmark's own (quiet logger) in `namespace`, its topology applied, so that the
 * bus helpers give each event the subject, partition and copies the gateway would.
 */
export async function benchBus(url: string, namespace: string): Promise<Bus> {
  const log = createLogger({ service: "bench", level: "warn" });
  const bus = await connectBus({ servers: url, name: `bench-${namespace || "herald"}`, log, namespace });
  await applyTopology(bus, { replicas: 1 });
  return bus;
}

/**
 * Stores the events as the gateway does (storedCopies: one message, or one per partition for a
 * node.reset), IN_FLIGHT publishes at a time, with raw JetStream publishes; resolves with the
 * last sequence stored in each lane and partition.
 */
export async function publishStored(bus: Bus, events: readonly StoredEvent[]): Promise<LastStored> {
  const last: LastStored = new Map();
  const messages = events.flatMap((e) =>
    storedCopies(bus, e.event, appScopedMsgId(e.event.appId, e.event.id)).map((c) => ({
      ...c,
      data: e.data,
    })),
  );
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < messages.length) {
        const m = messages[next++];
        if (m === undefined) break;
        const h = headers();
        for (const [k, v] of Object.entries(m.headers ?? {})) h.set(k, v);
        const ack = await bus.js.publish(m.subject, m.data, { msgID: m.msgId, headers: h });
        const at = bus.names.subjects.parseEvent(m.subject);
        if (at === undefined) throw new Error(`not an event subject: ${m.subject}`);
        const key = laneKey(at.lane, at.partition);
        last.set(key, Math.max(last.get(key) ?? 0, ack.seq));
      }
    }),
  );
  return last;
}

/** Resolves once the durable has acknowledged everything stored for it. */
export async function ackedAll(bus: Bus, durable: string): Promise<void> {
  const jsm = await bus.jsm();
  for (;;) {
    const info = await jsm.consumers.info(bus.names.streams.events, durable).catch(() => undefined);
    if (info !== undefined && info.num_pending === 0 && info.num_ack_pending === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Seconds from the first publish until `done` resolves. */
export async function secondsUntil(
  bus: Bus,
  events: readonly StoredEvent[],
  done: (last: LastStored) => Promise<void>,
): Promise<number> {
  const t = process.hrtime.bigint();
  await done(await publishStored(bus, events));
  return ms(process.hrtime.bigint() - t) / 1000;
}

/**
 * The floor: a plain durable pull consumer on the floor bus's own EVENTS (another namespace, so no
 * Herald service sees it) that acks each message as it comes, consuming while the benchmark publishes.
 */
export async function startAckingFloor(floorBus: Bus): Promise<{ stop(): Promise<void> }> {
  const messages = await consumeFloorEvents(floorBus, FLOOR_DURABLE, 1000);
  void (async () => {
    for await (const m of messages) m.ack();
  })();
  return { stop: () => messages.close().then(() => undefined) };
}

/**
 * A plain durable pull consumer on every event of the floor bus's EVENTS, consuming with `pending`
 * messages in hand at most: the raw JetStream a floor measures Herald against.
 */
export async function consumeFloorEvents(
  floorBus: Bus,
  durable: string,
  pending: number,
): Promise<ConsumerMessages> {
  const jsm = await floorBus.jsm();
  await jsm.consumers.add(floorBus.names.streams.events, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    filter_subject: floorBus.names.subjects.events(),
    max_ack_pending: pending,
  });
  return (await floorBus.js.consumers.get(floorBus.names.streams.events, durable)).consume({
    max_messages: pending,
  });
}
