import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Event, OfflineReason, eventType } from "@herald/proto";
import type { DeepPartial } from "@herald/proto";
import { applyTopology, connectBus, partitionOf, readCurrent, storeEvent } from "@herald/bus";
import type { Bus } from "@herald/bus";
import { kitKeys, partitionsBehind } from "@herald/projection";
import { createLogger } from "@herald/runtime";
import { startNats, waitFor } from "@herald/testkit";
import type { NatsFixture } from "@herald/testkit";
import { startChatroom } from "./engine.js";
import type { ChatroomEngine } from "./engine.js";
import { KICKS_PROJECTION } from "./kicks.js";
import { roomKeys } from "./keys.js";
import { getRoom, listRoomMembers, listRooms, listUserRooms } from "./queries.js";
import { rebuildChatroom } from "./rebuild.js";
import { ROOMS_PROJECTION } from "./rooms.js";
import { fixedChatroomTimers } from "./timers.js";
import type { ChatroomTimers } from "./timers.js";

const log = createLogger({ service: "chatroom-test", level: process.env["LOG_LEVEL"] ?? "silent" });
const OFF: ChatroomTimers = { kickAfterMs: 0, abnormalDelayMs: 0, idleDestroyMs: 0 };
let nats: NatsFixture;
const buses: Bus[] = [];
const engines: ChatroomEngine[] = [];
let bus: Bus;
let n = 0;

async function openBus(): Promise<Bus> {
  const b = await connectBus({ servers: nats.url, name: "chatroom-test", log, namespace: nats.namespace });
  await applyTopology(b, { replicas: 1, partitions: 8 });
  buses.push(b);
  return b;
}

async function start(timers: ChatroomTimers = OFF, on: Bus = bus): Promise<ChatroomEngine> {
  const engine = await startChatroom({ bus: on, log, timers: fixedChatroomTimers(timers), leaseMs: 2_000 });
  engines.push(engine);
  return engine;
}

beforeAll(async () => {
  nats = await startNats();
  bus = await openBus();
});

afterAll(async () => {
  await Promise.all(engines.map((e) => e.stop()));
  await Promise.all(buses.map((b) => b.drain()));
  await nats?.stop();
});

type Payload = DeepPartial<Event>["payload"];

async function publish(appId: string, payload: Payload): Promise<Event> {
  n += 1;
  const partial = Event.fromPartial({
    id: `c-${n}`,
    appId,
    operationId: `op-${n}`,
    occurredAt: new Date(),
    payload,
  });
  const event = { ...partial, type: eventType(partial) };
  await storeEvent(bus, event, { msgId: `${appId}:${event.id}` });
  return event;
}

const create = (app: string, roomId: string) => publish(app, { $case: "roomCreated", value: { roomId } });
const join = (app: string, roomId: string, ...userIds: string[]) =>
  publish(app, { $case: "roomJoined", value: { roomId, userIds } });
const leave = (app: string, roomId: string, ...userIds: string[]) =>
  publish(app, { $case: "roomLeft", value: { roomId, userIds } });
const destroy = (app: string, roomId: string) => publish(app, { $case: "roomDestroyed", value: { roomId } });
const userOffline = (
  app: string,
  userId: string,
  seq: number,
  reason = OfflineReason.OFFLINE_REASON_LOGOUT,
) => publish(app, { $case: "userOffline", value: { userId, seq, reason } });
const userOnline = (app: string, userId: string, seq: number) =>
  publish(app, { $case: "userOnline", value: { userId, seq } });

/** Every stored room (and user) event has been folded and written. */
async function drained(kicks = false): Promise<void> {
  const bucket = bus.names.buckets.rooms;
  const projections = [{ name: ROOMS_PROJECTION, lane: "room", bucket }];
  if (kicks) projections.push({ name: KICKS_PROJECTION, lane: "user", bucket });
  await waitFor(
    async () =>
      (await Promise.all(projections.map((p) => partitionsBehind(bus, p)))).every((b) => b.length === 0),
    { timeoutMs: 30_000, what: "the chatroom to fold and write everything stored" },
  );
}

/** The derived room events of an app (lane roomout) in stream order, as "<room> <type> <kind/reason> <status> <users>". */
async function records(appId: string): Promise<string[]> {
  const jsm = await bus.jsm();
  const out: string[] = [];
  const { state } = await jsm.streams.info(bus.names.streams.events);
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const msg = await jsm.streams.getMessage(bus.names.streams.events, { seq }).catch(() => null);
    const at = msg === null ? undefined : bus.names.subjects.parseEvent(msg.subject);
    if (msg === null || at?.lane !== "roomout" || at.appId !== appId) continue;
    const p = Event.decode(msg.data).payload;
    if (p?.$case === "roomStatus") {
      out.push(`${p.value.roomId} status ${p.value.kind} ${p.value.status} ${p.value.userIds.join(",")}`);
    } else if (p?.$case === "roomRejected") {
      out.push(`${p.value.roomId} rejected ${p.value.reason} ${p.value.userIds.join(",")}`);
    }
  }
  return out;
}

/** Every live key of a bucket under a filter, with its value (the kit's own keys and the meta's batch aside). */
async function keys(bucket: string, filter: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of readCurrent(bus, bucket, filter)) {
    let value = new TextDecoder().decode(e.value);
    // Which changes were in the last written batch differs between live and rebuild.
    if (e.key.startsWith("r.")) value = JSON.stringify({ ...JSON.parse(value), batch: [] });
    out.set(e.key, value);
  }
  return out;
}

describe("chatroom on the projection kit, on a real NATS", () => {
  it("two replicas fold rooms across partitions in stream order; queries answer; a rebuild equals the live state", async () => {
    const a = await start();
    const b = await start(OFF, await openBus());
    await waitFor(() => a.rooms.owned().length > 0 && b.rooms.owned().length > 0, {
      timeoutMs: 20_000,
      what: "both replicas to own partitions",
    });
    const app = "many";
    const roomIds = Array.from({ length: 12 }, (_, r) => `房间.${r}-🎉`);
    expect(new Set(roomIds.map((r) => partitionOf(app, r, 8))).size).toBeGreaterThan(3);
    // Each room's events in order; rooms interleave. Join, leave and join again of one user must
    // apply in order, which only strict per-room order guarantees.
    await Promise.all(
      roomIds.map(async (room) => {
        await create(app, room);
        await join(app, room, "用户-1", "😀", "u3");
        await leave(app, room, "用户-1");
        await join(app, room, "用户-1");
        await leave(app, room, "u3");
      }),
    );
    await drained();
    const expected = (room: string) => [
      `${room} status 0 0 `,
      `${room} status 1 0 用户-1,😀,u3`,
      `${room} status 2 0 用户-1`,
      `${room} status 1 0 用户-1`,
      `${room} status 2 0 u3`,
    ];
    const stored = await records(app);
    for (const room of roomIds)
      expect(stored.filter((r) => r.startsWith(`${room} `))).toEqual(expected(room));

    const room0 = roomIds[0] as string;
    expect(await getRoom(bus, app, room0)).toMatchObject({ appId: app, roomId: room0, memberCount: 2 });
    const page1 = await listRoomMembers(bus, app, room0, { pageSize: 1 });
    const page2 = await listRoomMembers(bus, app, room0, {
      pageSize: 1,
      pageToken: page1?.nextPageToken ?? "",
    });
    expect([...(page1?.members ?? []), ...(page2?.members ?? [])].map((m) => m.userId).sort()).toEqual(
      ["用户-1", "😀"].sort(),
    );
    expect(page2?.nextPageToken).toBe("");
    expect(await listUserRooms(bus, app, "😀")).toEqual([...roomIds].sort());
    expect(await listUserRooms(bus, app, "u3")).toEqual([]);
    const firstRooms = await listRooms(bus, app, { pageSize: 5 });
    const restRooms = await listRooms(bus, app, { pageSize: 100, pageToken: firstRooms.nextPageToken });
    expect(restRooms.nextPageToken).toBe("");
    expect([...firstRooms.rooms, ...restRooms.rooms].map((r) => r.roomId).sort()).toEqual(
      [...roomIds].sort(),
    );

    await destroy(app, room0);
    await drained();
    expect(await getRoom(bus, app, room0)).toBeUndefined();
    expect(await listRoomMembers(bus, app, room0, { pageSize: 10 })).toBeUndefined();
    expect(await listUserRooms(bus, app, "😀")).toEqual(roomIds.slice(1).sort());

    const bucket = `${nats.namespace}_REBUILT`;
    const report = await rebuildChatroom(bus, { bucket, log });
    expect(report.rooms.states).toBeGreaterThanOrEqual(roomIds.length);
    const live = bus.names.buckets.rooms;
    for (const filter of ["r.>", "m.>", "u.>"]) {
      expect(await keys(bucket, filter)).toEqual(await keys(live, filter));
    }
    await Promise.all([a.stop(), b.stop()]);
  });

  it("rejects invalid transitions with a room.rejected and applies nothing", async () => {
    const engine = await start();
    const app = "bad";
    await join(app, "ghost", "u1");
    await create(app, "r1");
    await create(app, "r1");
    await join(app, "r1", "u1");
    await join(app, "r1", "u2", "u1");
    await leave(app, "r1", "u9");
    await join(app, "r1");
    await join(app, "", "u1");
    await drained();
    // Rooms are in different partitions: each room's records are in order, not all of an app's.
    const stored = await records(app);
    expect(stored.filter((r) => !r.startsWith("r1 "))).toEqual(
      expect.arrayContaining(["ghost rejected room_not_found u1", " rejected missing_room_id u1"]),
    );
    expect(stored.filter((r) => r.startsWith("r1 "))).toEqual([
      "r1 status 0 0 ",
      "r1 rejected room_exists ",
      "r1 status 1 0 u1",
      "r1 rejected already_a_member u1",
      "r1 rejected not_a_member u9",
      "r1 rejected no_users ",
    ]);
    expect(stored).toHaveLength(8);
    expect(await getRoom(bus, app, "r1")).toMatchObject({ memberCount: 1 });
    expect(await listUserRooms(bus, app, "u2")).toEqual([]);
    await engine.stop();
  });

  it("kicks a user offline past the threshold from every room (status 1), then destroys the emptied rooms (status 3)", async () => {
    const engine = await start({ kickAfterMs: 300, abnormalDelayMs: 60_000, idleDestroyMs: 600 });
    const app = "kick";
    const roomIds = ["r-一", "r-二", "r-三"];
    for (const room of roomIds) {
      await create(app, room);
      await join(app, room, "走了", "stays");
    }
    await drained(true);
    await userOffline(app, "走了", 2);
    // An abnormal disconnect waits the (long) abnormal delay; a later online cancels the kick anyway.
    await userOffline(app, "stays", 2, OfflineReason.OFFLINE_REASON_DISCONNECT);
    await userOnline(app, "stays", 3);
    await waitFor(async () => (await listUserRooms(bus, app, "走了")).length === 0, {
      timeoutMs: 20_000,
      what: "the kick",
    });
    await drained(true);
    const stored = await records(app);
    for (const room of roomIds) expect(stored).toContain(`${room} status 2 1 走了`);
    expect(await listUserRooms(bus, app, "stays")).toEqual([...roomIds].sort());
    const kv = await bus.kv(bus.names.buckets.rooms);
    const timer = roomKeys.kick(partitionOf(app, "stays", 8), app, "stays");
    expect((await kv.get(timer))?.operation).not.toBe("PUT");

    for (const room of roomIds) await leave(app, room, "stays");
    await waitFor(async () => (await records(app)).filter((r) => r.includes(" status 3 3")).length === 3, {
      timeoutMs: 20_000,
      what: "the idle destroys",
    });
    for (const room of roomIds) expect(await getRoom(bus, app, room)).toBeUndefined();
    await engine.stop();
  });

  it("hands partitions over when a replica stops: nothing lost, nothing applied twice", async () => {
    const first = await start();
    const app = "handover";
    await create(app, "大房间");
    const users = Array.from({ length: 60 }, (_, i) => `成员-${i}`);
    const sending = (async () => {
      for (const u of users) await join(app, "大房间", u);
    })();
    const second = await start(OFF, await openBus());
    await waitFor(() => second.rooms.owned().length > 0, {
      timeoutMs: 20_000,
      what: "the second replica to claim",
    });
    await first.stop();
    await sending;
    await drained();
    expect(await getRoom(bus, app, "大房间")).toMatchObject({ memberCount: users.length });
    const stored = await records(app);
    expect(stored).toHaveLength(users.length + 1);
    expect(new Set(stored).size).toBe(stored.length);
    const listed = await listRoomMembers(bus, app, "大房间", { pageSize: 1000 });
    expect(listed?.members.map((m) => m.userId).sort()).toEqual([...users].sort());
    // The new owner loaded the members with the partition: a second join of one is refused.
    await join(app, "大房间", users[0] as string);
    await drained();
    expect((await records(app)).at(-1)).toBe(`大房间 rejected already_a_member ${users[0]}`);
    await second.stop();
  });

  it("redoes memberships a crashed owner wrote the room for but not its side keys", async () => {
    const app = "crash";
    const room = "会议室-🚪";
    const p = partitionOf(app, room, 8);
    const first = await start();
    await create(app, room);
    await join(app, room, "写了", "没写");
    await drained();
    await first.stop();
    // As if the owner died after writing the room's state, before its side keys and next checkpoint.
    const kv = await bus.kv(bus.names.buckets.rooms);
    const meta = JSON.parse((await kv.get(roomKeys.room(p, app, room)))?.string() ?? "{}") as {
      lastSeq: number;
      batch: number[];
    };
    expect(meta.batch).toContain(meta.lastSeq);
    await kv.delete(roomKeys.member(p, app, room, "没写"));
    await kv.delete(roomKeys.userRoom(app, "没写", room));
    await kv.put(
      kitKeys.checkpoint(ROOMS_PROJECTION, p),
      JSON.stringify({ through: meta.lastSeq - 1, owner: "dead" }),
    );
    expect(await listUserRooms(bus, app, "没写")).toEqual([]);

    const second = await start();
    await drained();
    await waitFor(async () => (await listUserRooms(bus, app, "没写")).length === 1, {
      timeoutMs: 10_000,
      what: "the membership to be redone",
    });
    const listed = await listRoomMembers(bus, app, room, { pageSize: 10 });
    expect(listed?.members.map((m) => m.userId).sort()).toEqual(["写了", "没写"].sort());
    // Nothing was derived twice.
    expect(await records(app)).toEqual([`${room} status 0 0 `, `${room} status 1 0 写了,没写`]);
    await second.stop();
  });
});
