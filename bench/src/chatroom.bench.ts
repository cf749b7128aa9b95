// Chatroom folding: room.joined events stored straight into EVENTS and folded by the chatroom
// service (room meta compare-and-set, one member and one index key per user, a room.status
// record per event), against the floor of a plain durable consumer that only acks the same
// messages, in one run.
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { headers } from "@nats-io/nats-core";
import { Event } from "@herald/proto";
import { busNames, streamConfigs, type BusNames } from "@herald/bus";
import { startNats } from "@herald/testkit";
import { startService, stopAll } from "@herald/e2e";
import { ms, type Row } from "./stats.js";

const TOTAL = Number(process.env.BENCH_CHATROOM_JOINS ?? 10_000);
const ROOMS = 100;
const IN_FLIGHT = 512; // publishes awaiting their ack
const APP = "bench";
// The chatroom service's durable for room events (see @herald/chatroom chatroomDurables).
const CHATROOM_DURABLE = "chatroom-rooms";
const FLOOR_DURABLE = "floor";

interface Stored {
  id: string;
  type: string;
  data: Uint8Array;
}

function roomEvent(id: string, payload: Event["payload"]): Stored {
  const event = Event.fromPartial({ id, appId: APP, occurredAt: new Date(), payload });
  const type = payload?.$case === "roomCreated" ? "room.created" : "room.joined";
  return { id, type, data: Event.encode({ ...event, type }).finish() };
}

/** `n` joins spread over the rooms, `perEvent` users per room.joined; `run` keeps users fresh. */
function joinEvents(run: string, n: number, perEvent: number): Stored[] {
  const out: Stored[] = [];
  for (let i = 0; i * perEvent < n; i++) {
    const userIds = Array.from({ length: perEvent }, (_, u) => `${run}-u${i * perEvent + u}`);
    out.push(
      roomEvent(`cb-${run}-j${i}`, {
        $case: "roomJoined",
        value: { roomId: `room-${i % ROOMS}`, userIds, status: 0 },
      }),
    );
  }
  return out;
}

async function publishAll(nc: NatsConnection, names: BusNames, events: Stored[]): Promise<void> {
  const js = jetstream(nc);
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < events.length) {
        const e = events[next++];
        if (e === undefined) break;
        const h = headers();
        h.set("Nats-Msg-Id", e.id);
        await js.publish(names.subjects.event(APP, e.type), e.data, { headers: h });
      }
    }),
  );
}

/** Resolves once the durable has acknowledged everything stored for it. */
async function acked(jsm: JetStreamManager, stream: string, durable: string): Promise<void> {
  for (;;) {
    const info = await jsm.consumers.info(stream, durable).catch(() => undefined);
    if (info !== undefined && info.num_pending === 0 && info.num_ack_pending === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Joins per second from the first publish until the durable has acked all of them. */
async function measure(
  events: Stored[],
  joins: number,
  nc: NatsConnection,
  names: BusNames,
  durable: string,
  jsm: JetStreamManager,
): Promise<number> {
  const t = process.hrtime.bigint();
  await publishAll(nc, names, events);
  await acked(jsm, names.streams.events, durable);
  return joins / (ms(process.hrtime.bigint() - t) / 1000);
}

export async function benchChatroom(): Promise<Row[]> {
  const nats = await startNats({ source: "local" });
  const names = busNames(nats.namespace);
  // The floor lives in its own namespace, so the chatroom service never sees its events.
  const floorNames = busNames(`${nats.namespace}floor`);
  const chatroom = await startService("chatroom", {
    NATS_URL: nats.url,
    HERALD_NAMESPACE: nats.namespace,
    LOG_LEVEL: "warn",
    CHATROOM_CONCURRENCY: process.env.BENCH_CHATROOM_CONCURRENCY ?? "256",
  });
  const nc = await connect({ servers: nats.url });
  try {
    await chatroom.waitReady();
    const jsm = await jetstreamManager(nc);
    const floorStream = streamConfigs(floorNames, { replicas: 1 }).find(
      (s) => s.name === floorNames.streams.events,
    );
    if (floorStream === undefined) throw new Error("no EVENTS stream declared");
    await jsm.streams.add(floorStream);
    await jsm.consumers.add(floorNames.streams.events, {
      durable_name: FLOOR_DURABLE,
      ack_policy: AckPolicy.Explicit,
      filter_subject: floorNames.subjects.events(),
      max_ack_pending: 1000,
    });
    const floorMessages = await (
      await jetstream(nc).consumers.get(floorNames.streams.events, FLOOR_DURABLE)
    ).consume({ max_messages: 1000 });
    void (async () => {
      for await (const m of floorMessages) m.ack();
    })();

    const creates = Array.from({ length: ROOMS }, (_, r) =>
      roomEvent(`cb-create-${r}`, { $case: "roomCreated", value: { roomId: `room-${r}`, status: 0 } }),
    );
    await publishAll(nc, names, creates);
    await acked(jsm, names.streams.events, CHATROOM_DURABLE);

    const rows: Row[] = [];
    for (const perEvent of [1, 100]) {
      const floorEvents = joinEvents(`floor${perEvent}`, TOTAL, perEvent);
      const floor = await measure(floorEvents, TOTAL, nc, floorNames, FLOOR_DURABLE, jsm);
      await measure(joinEvents(`warm${perEvent}`, 1_000, perEvent), 1_000, nc, names, CHATROOM_DURABLE, jsm);
      const herald = await measure(
        joinEvents(`run${perEvent}`, TOTAL, perEvent),
        TOTAL,
        nc,
        names,
        CHATROOM_DURABLE,
        jsm,
      );
      rows.push({
        name: `chatroom: joins applied (${TOTAL} over ${ROOMS} rooms, ${perEvent} user(s) per room.joined)`,
        unit: "joins/s",
        value: herald,
        floor,
      });
    }
    await floorMessages.close();
    return rows;
  } finally {
    await nc.close();
    await stopAll([chatroom]);
    await nats.stop();
  }
}
