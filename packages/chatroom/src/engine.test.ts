import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Event, eventType } from "@herald/proto";
import type { DeepPartial, RoomRejected, RoomStatus } from "@herald/proto";
import { applyTopology, connectBus, publishEvent } from "@herald/bus";
import type { Bus } from "@herald/bus";
import { createLogger } from "@herald/runtime";
import { startNats, waitFor } from "@herald/testkit";
import type { NatsFixture } from "@herald/testkit";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import { chatroomDurables, startChatroom } from "./engine.js";
import type { ChatroomEngine } from "./engine.js";
import { roomKeys } from "./keys.js";
import { getRoom, listRoomMembers, listUserRooms } from "./queries.js";
import { createChatroomProcessor } from "./processor.js";
import { rebuildChatroom } from "./rebuild.js";
import { readKeys } from "./store.js";
import { decodeRoomMeta } from "./state.js";

const log = createLogger({ service: "chatroom-test", level: process.env["LOG_LEVEL"] ?? "silent" });
const OFF = { kickAfterMs: 0, abnormalDelayMs: 0, idleDestroyMs: 0 };
let nats: NatsFixture;
const buses: Bus[] = [];
const engines: ChatroomEngine[] = [];
let bus: Bus;
let n = 0;

async function openBus(): Promise<Bus> {
  const b = await connectBus({ servers: nats.url, name: "chatroom-test", log, namespace: nats.namespace });
  buses.push(b);
  return b;
}

function startEngine(b: Bus): ChatroomEngine {
  const engine = startChatroom({ bus: b, log, timers: OFF, concurrency: 16 });
  engines.push(engine);
  return engine;
}

beforeAll(async () => {
  nats = await startNats();
  bus = await openBus();
  await applyTopology(bus, { replicas: 1 });
  startEngine(bus);
});

afterAll(async () => {
  await Promise.all(engines.map((e) => e.stop()));
  await Promise.all(buses.map((b) => b.drain()));
  await nats?.stop();
});

type Payload = DeepPartial<Event>["payload"];

async function publish(appId: string, payload: Payload): Promise<{ event: Event; seq: number }> {
  n += 1;
  const partial = Event.fromPartial({
    id: `c-${n}`,
    appId,
    operationId: `op-${n}`,
    occurredAt: new Date(),
    payload,
  });
  const event = { ...partial, type: eventType(partial) };
  const subject = bus.names.subjects.event(appId, event.type);
  const ack = await publishEvent(bus, subject, Event.encode(event).finish(), { msgId: event.id });
  return { event, seq: ack.seq };
}

const create = (app: string, roomId: string) => publish(app, { $case: "roomCreated", value: { roomId } });
const join = (app: string, roomId: string, ...userIds: string[]) =>
  publish(app, { $case: "roomJoined", value: { roomId, userIds } });
const leave = (app: string, roomId: string, ...userIds: string[]) =>
  publish(app, { $case: "roomLeft", value: { roomId, userIds } });
const destroy = (app: string, roomId: string) => publish(app, { $case: "roomDestroyed", value: { roomId } });

/** Every stored room event has been folded and acked. */
async function folded(): Promise<void> {
  const jsm = await bus.jsm();
  await waitFor(
    async () => {
      const info = await jsm.consumers
        .info(bus.names.streams.events, chatroomDurables().rooms)
        .catch(() => undefined);
      return info !== undefined && info.num_pending === 0 && info.num_ack_pending === 0;
    },
    { timeoutMs: 30_000, what: "the chatroom service to fold every room event" },
  );
}

/** The derived events of an app as stored, duplicates included. */
async function derived(
  appId: string,
): Promise<{ id: string; status?: RoomStatus; rejected?: RoomRejected }[]> {
  const jsm = await bus.jsm();
  const out: { id: string; status?: RoomStatus; rejected?: RoomRejected }[] = [];
  const last = (await jsm.streams.info(bus.names.streams.events)).state.last_seq;
  for (const type of ["room.status", "room.rejected"]) {
    const subject = bus.names.subjects.event(appId, type);
    const { state } = await jsm.streams.info(bus.names.streams.events, { subjects_filter: subject });
    if ((state.subjects?.[subject] ?? 0) === 0) continue;
    const consumer = await bus.js.consumers.get(bus.names.streams.events, { filter_subjects: subject });
    const messages = await consumer.consume();
    for await (const m of messages) {
      const e = Event.decode(m.data);
      const p = e.payload;
      out.push({
        id: e.id,
        ...(p?.$case === "roomStatus" ? { status: p.value } : {}),
        ...(p?.$case === "roomRejected" ? { rejected: p.value } : {}),
      });
      if (m.info.pending === 0 || m.seq >= last) break;
    }
    await messages.close();
  }
  return out;
}

const records = async (app: string) =>
  (await derived(app)).flatMap(({ status }) =>
    status === undefined ? [] : [[status.kind, status.status, status.userIds]],
  );

describe("chatroom engine", () => {
  it("records create, join, leave and destroy once each, and ends every membership on destroy", async () => {
    const app = "life";
    const c = await create(app, "r1");
    const j = await join(app, "r1", "u1", "u2", "u3");
    const l = await leave(app, "r1", "u2");
    await folded();
    expect(await getRoom(bus, app, "r1")).toMatchObject({ memberCount: 2, createdAt: c.event.occurredAt });
    expect((await listRoomMembers(bus, app, "r1", { pageSize: 10 }))?.members).toEqual([
      { userId: "u1", joinedAt: j.event.occurredAt },
      { userId: "u3", joinedAt: j.event.occurredAt },
    ]);
    expect(await listUserRooms(bus, app, "u1")).toEqual(["r1"]);
    const d = await destroy(app, "r1");
    await folded();
    expect(await getRoom(bus, app, "r1")).toBeUndefined();
    expect(await listRoomMembers(bus, app, "r1", { pageSize: 10 })).toBeUndefined();
    expect(await listUserRooms(bus, app, "u1")).toEqual([]);
    const kv = await bus.kv(bus.names.buckets.rooms);
    expect((await readKeys(kv, roomKeys.members(app, "r1"))).size).toBe(0);
    const stored = await derived(app);
    expect(stored.map((s) => s.id)).toEqual([c, j, l, d].map(({ seq }) => `${app}:room-status:${seq}`));
    expect(stored.map((s) => s.status)).toEqual([
      {
        roomId: "r1",
        userIds: [],
        status: 0,
        kind: 0,
        time: c.event.occurredAt?.getTime(),
        causeEventId: c.event.id,
      },
      expect.objectContaining({ userIds: ["u1", "u2", "u3"], kind: 1, causeEventId: j.event.id }),
      expect.objectContaining({ userIds: ["u2"], kind: 2 }),
      expect.objectContaining({ userIds: [], kind: 3 }),
    ]);
  });

  it("rejects invalid transitions with a room.rejected and applies nothing of them", async () => {
    const app = "bad";
    await join(app, "nope", "u1");
    await create(app, "r1");
    await create(app, "r1");
    await join(app, "r1", "u1");
    await join(app, "r1", "u2", "u1");
    await leave(app, "r1", "u9");
    await publish(app, { $case: "roomJoined", value: { roomId: "", userIds: ["u1"] } });
    await folded();
    const rejected = (await derived(app)).flatMap(({ rejected: r }) =>
      r === undefined ? [] : [[r.reason, r.userIds]],
    );
    // The rejections of separate rooms are published in no particular order.
    expect(rejected.sort()).toEqual(
      [
        ["room_not_found", ["u1"]],
        ["room_exists", []],
        ["already_a_member", ["u1"]],
        ["not_a_member", ["u9"]],
        ["missing_room_id", ["u1"]],
      ].sort(),
    );
    expect(await getRoom(bus, app, "r1")).toMatchObject({ memberCount: 1 });
    expect(await listUserRooms(bus, app, "u2")).toEqual([]);
  });

  it("applies a redelivered event once and publishes its record once", async () => {
    const app = "redeliver";
    await create(app, "r1");
    const j = await join(app, "r1", "u1");
    await folded();
    const [engine] = engines;
    const again = {
      subject: "",
      data: Event.encode(j.event).finish(),
      headers: {},
      seq: j.seq,
      deliveryCount: 2,
    };
    await engine?.processor.handleRoomEvent({ ...again, redelivered: true, working: () => undefined });
    // A fresh replica (no cache) sees it as applied too.
    const other = await openBus();
    const fresh = createChatroomProcessor({ bus: other, log, timers: OFF });
    await fresh.handleRoomEvent({ ...again, redelivered: true, working: () => undefined });
    expect(await records(app)).toEqual([
      [0, 0, []],
      [1, 0, ["u1"]],
    ]);
    expect(await getRoom(bus, app, "r1")).toMatchObject({ memberCount: 1 });
  });

  it("two replicas fold many rooms into one record per change; a rebuild equals the live state", async () => {
    const app = "replicas";
    startEngine(await openBus());
    const rooms = Array.from({ length: 20 }, (_, i) => `room-${i}`);
    // A phase is sent once the one it depends on is folded: replicas keep the order of one room's
    // events only for events not in flight at the same time (see README).
    await Promise.all(rooms.map((r) => create(app, r)));
    await folded();
    for (let batch = 0; batch < 5; batch++) {
      await Promise.all(
        rooms.map((r) => join(app, r, ...Array.from({ length: 20 }, (_, u) => `u${batch}-${u}`))),
      );
    }
    await folded();
    await Promise.all(rooms.map((r) => leave(app, r, "u0-0", "u4-19")));
    await folded();
    await Promise.all(rooms.slice(0, 5).map((r) => destroy(app, r)));
    await folded();
    const stored = await derived(app);
    expect(stored.filter((s) => s.rejected !== undefined)).toEqual([]);
    expect(new Set(stored.map((s) => s.id)).size).toBe(stored.length);
    expect(stored).toHaveLength(20 + 100 + 20 + 5);
    for (const r of rooms.slice(5)) expect((await getRoom(bus, app, r))?.memberCount).toBe(98);
    expect(await listUserRooms(bus, app, "u0-0")).toEqual([]);
    expect(await listUserRooms(bus, app, "u1-1")).toHaveLength(15);

    const bucket = `${nats.namespace}_ROOMS_REBUILT`;
    const report = await rebuildChatroom(bus, { bucket });
    expect(report.events).toBeGreaterThan(0);
    const rebuilt = await new Kvm(bus.js).open(bucket);
    const live = await bus.kv(bus.names.buckets.rooms);
    for (const filter of ["m.>", "u.>"])
      expect(await readKeys(rebuilt, filter)).toEqual(await readKeys(live, filter));
    expect(await roomStates(rebuilt)).toEqual(await roomStates(live));
  });
});

/** Every room meta without its outbox (how the last change was written, not state); `recent` as a set. */
async function roomStates(kv: KV): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  for (const [key, value] of await readKeys(kv, "r.>")) {
    const { outbox: _outbox, recent, ...state } = decodeRoomMeta(new TextEncoder().encode(value));
    out.set(key, { ...state, recent: [...recent].sort((a, b) => a - b) });
  }
  return out;
}
