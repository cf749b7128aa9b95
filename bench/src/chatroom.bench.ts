// Chatroom folding: room.joined events stored straight into EVENTS and folded by the chatroom
// service (room meta compare-and-set, one member and one index key per user, a room.status
// record per event), against the floor of a plain durable consumer that only acks the same
// messages, in one run.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Event } from "@herald/proto";
import { busNames } from "@herald/bus";
import { startNats } from "@herald/testkit";
import { startService, stopAll } from "@herald/e2e";
import {
  ackedAll,
  FLOOR_DURABLE,
  publishStored,
  secondsUntilAcked,
  startAckingFloor,
  type StoredEvent,
} from "./jetstream-floor.js";
import type { Row } from "./stats.js";

const TOTAL = Number(process.env.BENCH_CHATROOM_JOINS ?? 10_000);
const ROOMS = 100;
const APP = "bench";
// The chatroom service's durable for room events (see @herald/chatroom chatroomDurables).
const CHATROOM_DURABLE = "chatroom-rooms";

function roomEvent(id: string, payload: Event["payload"]): StoredEvent {
  const event = Event.fromPartial({ id, appId: APP, occurredAt: new Date(), payload });
  const type = payload?.$case === "roomCreated" ? "room.created" : "room.joined";
  return { id, type, data: Event.encode({ ...event, type }).finish() };
}

/** `n` joins spread over the rooms, `perEvent` users per room.joined; `run` keeps users fresh. */
function joinEvents(run: string, n: number, perEvent: number): StoredEvent[] {
  const out: StoredEvent[] = [];
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
    const floorConsumer = await startAckingFloor(nc, jsm, floorNames);
    const rate = async (events: StoredEvent[], joins: number, into: typeof names, durable: string) =>
      joins / (await secondsUntilAcked(nc, jsm, into, APP, durable, events));

    const creates = Array.from({ length: ROOMS }, (_, r) =>
      roomEvent(`cb-create-${r}`, { $case: "roomCreated", value: { roomId: `room-${r}`, status: 0 } }),
    );
    await publishStored(nc, names, APP, creates);
    await ackedAll(jsm, names.streams.events, CHATROOM_DURABLE);

    const rows: Row[] = [];
    for (const perEvent of [1, 100]) {
      const floor = await rate(
        joinEvents(`floor${perEvent}`, TOTAL, perEvent),
        TOTAL,
        floorNames,
        FLOOR_DURABLE,
      );
      await rate(joinEvents(`warm${perEvent}`, 1_000, perEvent), 1_000, names, CHATROOM_DURABLE);
      const herald = await rate(
        joinEvents(`run${perEvent}`, TOTAL, perEvent),
        TOTAL,
        names,
        CHATROOM_DURABLE,
      );
      rows.push({
        name: `chatroom: joins applied (${TOTAL} over ${ROOMS} rooms, ${perEvent} user(s) per room.joined)`,
        unit: "joins/s",
        value: herald,
        floor,
      });
    }
    await floorConsumer.stop();
    return rows;
  } finally {
    await nc.close();
    await stopAll([chatroom]);
    await nats.stop();
  }
}
