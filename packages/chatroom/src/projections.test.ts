import { describe, expect, it } from "vitest";
import { Event, OfflineReason, eventType } from "@herald/proto";
import type { DeepPartial } from "@herald/proto";
import { PartitionState } from "@herald/projection";
import { createLogger } from "@herald/runtime";
import { kicksProjection } from "./kicks.js";
import { roomKeys } from "./keys.js";
import { roomsProjection } from "./rooms.js";
import type { RoomState } from "./state.js";
import { fixedChatroomTimers } from "./timers.js";
import type { ChatroomTimers, ChatroomTimersOf, KickTimer } from "./timers.js";

// The two projections' folds, driven through the kit's in-memory partition (no NATS).

const log = createLogger({ service: "chatroom-test", level: "silent" });
const T0 = 1_700_000_000_000;
const P = 3;

function event(seq: number, payload: DeepPartial<Event>["payload"], operationId = `op${seq}`): Event {
  const e = Event.fromPartial({
    id: `e${seq}`,
    appId: "a",
    operationId,
    occurredAt: new Date(T0 + seq),
    payload,
  });
  return { ...e, type: eventType(e) };
}
const create = (seq: number) => event(seq, { $case: "roomCreated", value: { roomId: "房间-🙂" } });
const join = (seq: number, ...userIds: string[]) =>
  event(seq, { $case: "roomJoined", value: { roomId: "房间-🙂", userIds } });
const leave = (seq: number, ...userIds: string[]) =>
  event(seq, { $case: "roomLeft", value: { roomId: "房间-🙂", userIds } });
const ROOM = roomKeys.room(P, "a", "房间-🙂");
const member = (u: string) => roomKeys.member(P, "a", "房间-🙂", u);

function rooms(idleDestroyMs: number | ChatroomTimersOf = 0): PartitionState<RoomState> {
  const timers = typeof idleDestroyMs === "number" ? fixedChatroomTimers({ idleDestroyMs }) : idleDestroyMs;
  return new PartitionState(roomsProjection({ bucket: "ROOMS", timers }), P, 8, log);
}
const at = (seq: number) => ({ seq, time: T0 + seq });
const types = (events: readonly Event[]) => events.map((e) => `${e.type} ${e.id}`);

describe("rooms projection", () => {
  it("writes the meta as the state and memberships and the user index as side keys", () => {
    const state = rooms();
    state.loaded(0);
    state.apply(create(1), at(1));
    state.apply(join(2, "u1", "用户"), at(2));
    const batch = state.cut();
    expect(types(batch.events)).toEqual(["room.status a:room-status:1", "room.status a:room-status:2"]);
    expect(batch.writes.map((w) => w.key)).toEqual([ROOM]);
    expect([...batch.side]).toEqual([
      [member("u1"), String(T0 + 2)],
      [roomKeys.userRoom("a", "u1", "房间-🙂"), String(T0 + 2)],
      [member("用户"), String(T0 + 2)],
      [roomKeys.userRoom("a", "用户", "房间-🙂"), String(T0 + 2)],
    ]);
    state.apply(leave(3, "u9"), at(3));
    const rejected = state.cut();
    expect(types(rejected.events)).toEqual(["room.rejected a:room-rejected:3"]);
    expect(rejected.writes).toEqual([]);
  });

  it("redoes the memberships of a batch whose states were written without its side keys", () => {
    const live = rooms();
    live.loaded(0);
    live.apply(create(1), at(1));
    live.apply(join(2, "u1", "u2"), at(2));
    const first = live.cut();
    live.apply(leave(3, "u1"), at(3));
    live.apply(join(4, "u3"), at(4));
    const second = live.cut();
    // The owner died after writing the second batch's state, before its side keys; the checkpoint says 2.
    const sideAfterFirst = new Map([...first.side].map(([k, v]) => [k, new TextEncoder().encode(String(v))]));
    const reloaded = rooms();
    for (const w of second.writes) reloaded.load(w.key, w.data as Uint8Array, 7);
    reloaded.loaded(2, sideAfterFirst);
    expect([...(reloaded.get(ROOM)?.members ?? [])].sort()).toEqual(["u1", "u2"]);
    reloaded.apply(leave(3, "u1"), at(3));
    reloaded.apply(join(4, "u3"), at(4));
    const redo = reloaded.cut();
    expect(redo.events).toEqual([]);
    expect(redo.writes).toEqual([]);
    expect(redo.side.get(member("u1"))).toBeUndefined();
    expect(redo.side.has(member("u1"))).toBe(true);
    expect(redo.side.get(member("u3"))).toBe(String(T0 + 4));
    expect([...(reloaded.get(ROOM)?.members ?? [])].sort()).toEqual(["u2", "u3"]);
    // Members are right again: u3 joining twice is refused.
    reloaded.apply(join(5, "u3"), at(5));
    expect(types(reloaded.cut().events)).toEqual(["room.rejected a:room-rejected:5"]);
  });

  it("remembers only the changes of the batch being gathered", () => {
    const state = rooms();
    state.loaded(0);
    state.apply(create(1), at(1));
    state.apply(join(2, "u1"), at(2));
    state.cut();
    state.apply(join(3, "u2"), at(3));
    expect(state.get(ROOM)?.meta.batch).toEqual([3]);
  });

  it("destroys a room left empty for the idle time, and not one that changed meanwhile", () => {
    const state = rooms(1_000);
    state.loaded(0);
    state.apply(create(1), at(1));
    state.apply(join(2, "u1"), at(2));
    expect(state.timers.next()).toBeUndefined();
    state.apply(leave(3, "u1"), at(3));
    expect(state.timers.next()).toBe(T0 + 3 + 1_000);
    state.cut();
    state.fireDue(T0 + 3 + 1_000);
    const fired = state.cut();
    expect(types(fired.events)).toEqual(["room.destroyed a:room-idle:3"]);
    // Folded when it comes back through the lane: destroyed with status 3, memberships gone.
    state.apply(fired.events[0] as Event, at(10));
    expect(state.get(ROOM)?.meta).toMatchObject({ exists: false, lastSeq: 10 });
    const status = state.cut().events[0]?.payload;
    expect(status?.$case === "roomStatus" && status.value).toMatchObject({ kind: 3, status: 3 });

    const busy = rooms(1_000);
    busy.loaded(0);
    busy.apply(create(1), at(1));
    busy.apply(join(500, "u1"), at(500));
    busy.fireDue(T0 + 5_000);
    expect(busy.cut().events.map((e) => e.type)).toEqual(["room.status", "room.status"]);
  });

  it("reads the app's idle time when the timer fires: turned off since, nothing; lengthened, it waits again", () => {
    let now: ChatroomTimers = { kickAfterMs: 0, abnormalDelayMs: 0, idleDestroyMs: 1_000 };
    const state = rooms((appId) => (appId === "a" ? now : { ...now, idleDestroyMs: 0 }));
    state.loaded(0);
    state.apply(create(1), at(1));
    expect(state.timers.next()).toBe(T0 + 1 + 1_000);
    state.cut();
    now = { ...now, idleDestroyMs: 3_000 };
    expect(state.fireDue(T0 + 1 + 1_000)).toBe(1);
    expect(state.cut().events).toEqual([]);
    expect(state.timers.next()).toBe(T0 + 1 + 3_000);
    now = { ...now, idleDestroyMs: 0 };
    state.fireDue(T0 + 1 + 3_000);
    expect(state.cut().events).toEqual([]);
    expect(state.timers.next()).toBeUndefined();
  });
});

describe("kicks projection", () => {
  const timers = { kickAfterMs: 1_000, abnormalDelayMs: 5_000, idleDestroyMs: 0 };
  const user = (seq: number, presenceSeq: number, $case: "userOnline" | "userOffline", reason = 0) =>
    event(seq, {
      $case,
      value: { userId: "用户🙂", seq: presenceSeq, ...($case === "userOffline" ? { reason } : {}) },
    });
  const KEY = roomKeys.kick(P, "a", "用户🙂");
  function kicks(timersOf: ChatroomTimersOf = () => timers): PartitionState<KickTimer> {
    const state = new PartitionState(
      kicksProjection({ bucket: "ROOMS", timers: timersOf, userRooms: () => Promise.resolve(["r1", "r2"]) }),
      P,
      8,
      log,
    );
    state.loaded(0);
    return state;
  }

  it("sets a kick timer on user.offline and removes it on a later user.online", () => {
    const state = kicks();
    state.apply(user(1, 1, "userOnline"), at(1));
    state.apply(user(2, 2, "userOffline", OfflineReason.OFFLINE_REASON_DISCONNECT), at(2));
    expect(state.get(KEY)).toMatchObject({ seq: 2, due: T0 + 2 + 6_000, abnormal: true });
    expect(state.cut().writes.map((w) => w.key)).toEqual([KEY]);
    state.apply(user(3, 2, "userOnline"), at(3)); // an older presence change: ignored
    expect(state.get(KEY)).toBeDefined();
    state.apply(user(4, 3, "userOnline"), at(4));
    expect(state.get(KEY)).toBeUndefined();
    expect(state.timers.next()).toBeUndefined();
    expect(state.cut().writes).toEqual([{ key: KEY, data: undefined, revision: 0 }]);
  });

  it("kicks the user from each of their rooms when the timer fires", async () => {
    const state = kicks();
    state.apply(user(1, 4, "userOffline", OfflineReason.OFFLINE_REASON_LOGOUT), at(1));
    state.cut();
    expect(state.fireDue(T0 + 1 + 1_000)).toBe(1);
    expect(state.get(KEY)).toBeUndefined();
    const batch = state.cut();
    const derived = (await Promise.all(batch.deferred.map((read) => read()))).flat();
    expect(derived.map((e) => e.payload)).toEqual(
      ["r1", "r2"].map((roomId) => ({
        $case: "roomLeft",
        value: { roomId, userIds: ["用户🙂"], status: 1 },
      })),
    );
    expect(derived.every((e) => e.occurredAt?.getTime() === T0 + 1 + 1_000)).toBe(true);
  });

  it("sets nothing for an app with auto-kick off, while another app's users are kicked", () => {
    const state = kicks((appId) => (appId === "a" ? fixedChatroomTimers()(appId) : timers));
    state.apply(user(1, 2, "userOffline", OfflineReason.OFFLINE_REASON_LOGOUT), at(1));
    expect(state.get(KEY)).toBeUndefined();
    expect(state.timers.next()).toBeUndefined();
    const other = { ...user(2, 2, "userOffline", OfflineReason.OFFLINE_REASON_LOGOUT), appId: "b" };
    state.apply(other, at(2));
    expect(state.get(roomKeys.kick(P, "b", "用户🙂"))).toMatchObject({ due: T0 + 2 + 1_000 });
  });

  it("reads the app's settings when the timer fires: lengthened, it waits again; turned off, no kick", () => {
    let now: ChatroomTimers = timers;
    const state = kicks(() => now);
    state.apply(user(1, 2, "userOffline", OfflineReason.OFFLINE_REASON_LOGOUT), at(1));
    state.cut();
    now = { ...timers, kickAfterMs: 4_000 };
    expect(state.fireDue(T0 + 1 + 1_000)).toBe(1);
    expect(state.get(KEY)).toMatchObject({ due: T0 + 1 + 4_000 });
    expect(state.timers.next()).toBe(T0 + 1 + 4_000);
    expect(state.cut().deferred).toEqual([]);
    now = { ...timers, kickAfterMs: 0 };
    expect(state.fireDue(T0 + 1 + 4_000)).toBe(1);
    expect(state.get(KEY)).toBeUndefined();
    const batch = state.cut();
    expect(batch.deferred).toEqual([]);
    expect(batch.writes.map((w) => [w.key, w.data])).toEqual([[KEY, undefined]]);
  });
});
