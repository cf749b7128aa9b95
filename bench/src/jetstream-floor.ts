// What the projection benchmarks share: stored events published straight into EVENTS, the wait
// for a durable to acknowledge them, and the floor, a plain durable that only acks.
import { AckPolicy, jetstream, type ConsumerMessages, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { headers } from "@nats-io/nats-core";
import { streamConfigs, type BusNames } from "@herald/bus";
import { ms } from "./stats.js";

/** An encoded Event with its id (the Nats-Msg-Id) and type (the subject's tail). */
export interface StoredEvent {
  id: string;
  type: string;
  data: Uint8Array;
}

const IN_FLIGHT = 512; // publishes awaiting their ack
export const FLOOR_DURABLE = "floor";

export async function publishStored(
  nc: NatsConnection,
  names: BusNames,
  appId: string,
  events: readonly StoredEvent[],
): Promise<void> {
  const js = jetstream(nc);
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < events.length) {
        const e = events[next++];
        if (e === undefined) break;
        const h = headers();
        h.set("Nats-Msg-Id", e.id);
        await js.publish(names.subjects.event(appId, e.type), e.data, { headers: h });
      }
    }),
  );
}

/** Resolves once the durable has acknowledged everything stored for it. */
export async function ackedAll(jsm: JetStreamManager, stream: string, durable: string): Promise<void> {
  for (;;) {
    const info = await jsm.consumers.info(stream, durable).catch(() => undefined);
    if (info !== undefined && info.num_pending === 0 && info.num_ack_pending === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Seconds from the first publish until `durable` has acknowledged every event. */
export async function secondsUntilAcked(
  nc: NatsConnection,
  jsm: JetStreamManager,
  names: BusNames,
  appId: string,
  durable: string,
  events: readonly StoredEvent[],
): Promise<number> {
  const t = process.hrtime.bigint();
  await publishStored(nc, names, appId, events);
  await ackedAll(jsm, names.streams.events, durable);
  return ms(process.hrtime.bigint() - t) / 1000;
}

/**
 * The floor: an EVENTS stream of its own namespace with a plain durable pull consumer that acks
 * each message as it comes, consuming while the benchmark publishes.
 */
export async function startAckingFloor(
  nc: NatsConnection,
  jsm: JetStreamManager,
  floorNames: BusNames,
): Promise<{ stop(): Promise<void> }> {
  const messages = await consumeFloorEvents(nc, jsm, floorNames, FLOOR_DURABLE, 1000);
  void (async () => {
    for await (const m of messages) m.ack();
  })();
  return { stop: () => messages.close().then(() => undefined) };
}

/**
 * A floor's own EVENTS stream (in its namespace) and a plain durable pull consumer on it, consuming
 * with `pending` messages in hand at most: the raw JetStream a floor measures Herald against.
 */
export async function consumeFloorEvents(
  nc: NatsConnection,
  jsm: JetStreamManager,
  floorNames: BusNames,
  durable: string,
  pending: number,
): Promise<ConsumerMessages> {
  const stream = streamConfigs(floorNames, { replicas: 1 }).find((s) => s.name === floorNames.streams.events);
  if (stream === undefined) throw new Error("no EVENTS stream declared");
  await jsm.streams.add(stream);
  await jsm.consumers.add(floorNames.streams.events, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    filter_subject: floorNames.subjects.events(),
    max_ack_pending: pending,
  });
  return (await jetstream(nc).consumers.get(floorNames.streams.events, durable)).consume({
    max_messages: pending,
  });
}
