// Chatroom folding: room.joined events stored straight into EVENTS (lane room, the room's
// partition) and folded by the chatroom service on the projection kit (projection "rooms" in the
// ROOMS bucket) until every partition's checkpoint covers its last event; against the floor of a
// plain durable consumer that only acks the same messages, in one run.
import { randomUUID } from "node:crypto";
import type { DeepPartial, Event } from "@herald/proto";
import { KICKS_PROJECTION, ROOMS_PROJECTION } from "@herald/chatroom";
import type { ProjectionAddress } from "@herald/projection";
import { startNats } from "@herald/testkit";
import { startService, stopAll } from "@herald/e2e";
import {
  ackedAll,
  benchBus,
  FLOOR_DURABLE,
  publishStored,
  secondsUntil,
  startAckingFloor,
  storedEvent,
  type StoredEvent,
} from "./jetstream-floor.js";
import { checkpointsCover, ownersSettled } from "./projection-progress.js";
import { profiledEnv, profileToggle } from "./process-cpu.js";
import type { Row } from "./stats.js";

const TOTAL = Number(process.env.BENCH_CHATROOM_JOINS ?? 10_000);
const ROOMS = 100;
const APP = "bench";

function roomEvent(payload: DeepPartial<Event>["payload"]): StoredEvent {
  return storedEvent({
    id: randomUUID(),
    appId: APP,
    operationId: randomUUID(),
    occurredAt: new Date(),
    payload,
  });
}

/**
 * `n` user changes, presence's own output (user.offline then user.online per user): what the kicks
 * projection folds. No app sets auto-kick here, so each is dropped early: the cost of the projection
 * running for every app while none (or few) turn auto-kick on.
 */
function userEvents(run: string, n: number): StoredEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const userId = `${run}-${Math.floor(i / 2)}`;
    const value = { userId, seq: (i % 2) + 2, reason: 1 };
    return roomEvent(i % 2 === 0 ? { $case: "userOffline", value } : { $case: "userOnline", value });
  });
}

const roomId = (r: number) => `room-${String(r).padStart(4, "0")}`;

/** `n` joins spread over the rooms, `perEvent` users per room.joined; `run` (digits) keeps users fresh. */
function joinEvents(run: string, n: number, perEvent: number): StoredEvent[] {
  const out: StoredEvent[] = [];
  for (let i = 0; i * perEvent < n; i++) {
    const userIds = Array.from(
      { length: perEvent },
      (_, u) => `${run}${String(i * perEvent + u).padStart(6, "0")}`,
    );
    out.push(roomEvent({ $case: "roomJoined", value: { roomId: roomId(i % ROOMS), userIds, status: 0 } }));
  }
  return out;
}

export async function benchChatroom(): Promise<Row[]> {
  const nats = await startNats({ source: "local" });
  const bus = await benchBus(nats.url, nats.namespace);
  // The floor lives in its own namespace, so the chatroom service never sees its events.
  const floorBus = await benchBus(nats.url, `${nats.namespace}floor`);
  const projection: ProjectionAddress = {
    name: ROOMS_PROJECTION,
    lane: "room",
    bucket: bus.names.buckets.rooms,
  };
  const chatroom = await startService("chatroom", {
    NATS_URL: nats.url,
    HERALD_NAMESPACE: nats.namespace,
    LOG_LEVEL: "warn",
    ...profiledEnv(),
  });
  try {
    await chatroom.waitReady();
    await ownersSettled(bus, projection, 1);
    const floorConsumer = await startAckingFloor(floorBus);
    const run = String(1000 + Math.floor(Math.random() * 9000));

    const creates = Array.from({ length: ROOMS }, (_, r) =>
      roomEvent({ $case: "roomCreated", value: { roomId: roomId(r), status: 0 } }),
    );
    await checkpointsCover(bus, projection, await publishStored(bus, creates));

    const rows: Row[] = [];
    for (const perEvent of [1, 100]) {
      const floorSeconds = await secondsUntil(
        floorBus,
        joinEvents(`${run}${perEvent === 1 ? 1 : 2}0`, TOTAL, perEvent),
        () => ackedAll(floorBus, FLOOR_DURABLE),
      );
      const heraldRun = (tag: string, n: number) =>
        secondsUntil(bus, joinEvents(`${run}${perEvent === 1 ? 1 : 2}${tag}`, n, perEvent), (last) =>
          checkpointsCover(bus, projection, last),
        );
      await heraldRun("1", 1_000); // warm-up
      profileToggle([chatroom]);
      const heraldSeconds = await heraldRun("2", TOTAL);
      profileToggle([chatroom]);
      rows.push({
        name: `chatroom: joins applied (${TOTAL} over ${ROOMS} rooms, ${perEvent} user(s) per room.joined)`,
        unit: "joins/s",
        value: TOTAL / heraldSeconds,
        floor: TOTAL / floorSeconds,
      });
    }
    // The user lane, folded by the kicks projection with auto-kick off for the app.
    const kicks: ProjectionAddress = { ...projection, name: KICKS_PROJECTION, lane: "user" };
    await ownersSettled(bus, kicks, 1);
    const floorSeconds = await secondsUntil(floorBus, userEvents(`${run}f`, TOTAL), () =>
      ackedAll(floorBus, FLOOR_DURABLE),
    );
    const kicksRun = (tag: string, n: number) =>
      secondsUntil(bus, userEvents(`${run}${tag}`, n), (last) => checkpointsCover(bus, kicks, last));
    await kicksRun("w", 1_000); // warm-up
    const kicksSeconds = await kicksRun("k", TOTAL);
    rows.push({
      name: `chatroom: user changes folded by the kicks projection, auto-kick off (${TOTAL})`,
      unit: "events/s",
      value: TOTAL / kicksSeconds,
      floor: TOTAL / floorSeconds,
    });
    await floorConsumer.stop();
    return rows;
  } finally {
    await stopAll([chatroom]);
    await bus.drain();
    await floorBus.drain();
    await nats.stop();
  }
}
