import { describe, expect, it } from "vitest";
import { Event, eventType, type DeepPartial } from "@herald/proto";
import { foldRoom, ROOM_KIND, ROOM_STATUS } from "./fold.js";
import type { RoomFold } from "./fold.js";
import type { RoomMeta } from "./state.js";

const T0 = 1_700_000_000_000;

function event(seq: number, payload: DeepPartial<Event>["payload"]): Event {
  const e = Event.fromPartial({ id: `e${seq}`, appId: "a", occurredAt: new Date(T0 + seq), payload });
  return { ...e, type: eventType(e) };
}
const create = (seq: number) => event(seq, { $case: "roomCreated", value: { roomId: "r" } });
const join = (seq: number, ...userIds: string[]) =>
  event(seq, { $case: "roomJoined", value: { roomId: "r", userIds } });
const leave = (seq: number, userIds: string[], status = 0) =>
  event(seq, { $case: "roomLeft", value: { roomId: "r", userIds, status } });
const destroy = (seq: number, status = 0) =>
  event(seq, { $case: "roomDestroyed", value: { roomId: "r", status } });

/** Folds events in order, keeping the member set as the store would. */
function run(...events: Event[]): { meta: RoomMeta | undefined; members: Set<string>; folds: RoomFold[] } {
  let meta: RoomMeta | undefined;
  const members = new Set<string>();
  const folds: RoomFold[] = [];
  events.forEach((e, i) => {
    const fold = foldRoom(meta, members, e, Number(e.id.slice(1)) || i + 1, T0);
    folds.push(fold);
    if (fold.outcome !== "applied") return;
    meta = fold.meta;
    if (fold.change.destroyed) members.clear();
    fold.change.joined.forEach((u) => members.add(u));
    fold.change.left.forEach((u) => members.delete(u));
  });
  return { meta, members, folds };
}

const statusOf = (f: RoomFold) =>
  f.outcome === "applied" && f.derived.payload?.$case === "roomStatus" ? f.derived.payload.value : undefined;
const reasonOf = (f: RoomFold | undefined) => (f?.outcome === "rejected" ? f.reason : f?.outcome);

describe("foldRoom", () => {
  it("derives one RongCloud record per change of create -> join -> leave -> destroy", () => {
    const { meta, folds } = run(create(1), join(2, "u1", "u2"), leave(3, ["u1"]), destroy(4));
    expect(folds.map(statusOf)).toEqual([
      { roomId: "r", userIds: [], status: 0, kind: ROOM_KIND.create, time: T0 + 1, causeEventId: "e1" },
      {
        roomId: "r",
        userIds: ["u1", "u2"],
        status: 0,
        kind: ROOM_KIND.join,
        time: T0 + 2,
        causeEventId: "e2",
      },
      { roomId: "r", userIds: ["u1"], status: 0, kind: ROOM_KIND.leave, time: T0 + 3, causeEventId: "e3" },
      { roomId: "r", userIds: [], status: 0, kind: ROOM_KIND.destroy, time: T0 + 4, causeEventId: "e4" },
    ]);
    expect(folds.map((f) => (f.outcome === "applied" ? f.derived.id : ""))).toEqual([
      "a:room-status:1",
      "a:room-status:2",
      "a:room-status:3",
      "a:room-status:4",
    ]);
    expect(meta).toMatchObject({ exists: false, memberCount: 0, createdAt: T0 + 1, lastSeq: 4 });
    const destroyed = folds[3];
    expect(destroyed?.outcome === "applied" && destroyed.change.destroyed).toBe(true);
  });

  it("rejects every invalid transition and names who was wrong", () => {
    expect(reasonOf(run(join(1, "u1")).folds[0])).toBe("room_not_found");
    expect(reasonOf(run(leave(1, ["u1"])).folds[0])).toBe("room_not_found");
    expect(reasonOf(run(destroy(1)).folds[0])).toBe("room_not_found");
    expect(reasonOf(run(create(1), create(2)).folds[1])).toBe("room_exists");
    expect(reasonOf(run(create(1), join(2, "u1"), leave(3, ["u1", "u9"])).folds[2])).toBe("not_a_member");
    expect(reasonOf(run(create(1), join(2, "u1"), join(3, "u2", "u1")).folds[2])).toBe("already_a_member");
    expect(reasonOf(run(create(1), join(2)).folds[1])).toBe("no_users");
    const rejected = run(create(1), join(2, "u1"), join(3, "u2", "u1")).folds[2];
    expect(rejected?.outcome === "rejected" && rejected.derived.payload).toEqual({
      $case: "roomRejected",
      value: {
        roomId: "r",
        userIds: ["u1"],
        reason: "already_a_member",
        causeEventId: "e3",
        causeType: "room.joined",
      },
    });
    // Nothing of a rejected join is applied: u2 is not in.
    expect([...run(create(1), join(2, "u1"), join(3, "u2", "u1")).members]).toEqual(["u1"]);
  });

  it("applies a redelivered event once", () => {
    const { meta, members, folds } = run(create(1), join(2, "u1"), join(2, "u1"));
    expect(folds[2]?.outcome).toBe("duplicate");
    expect(meta?.memberCount).toBe(1);
    expect(members.size).toBe(1);
  });

  it("counts anything at or below the room's last sequence as applied (a room's events come in stream order)", () => {
    const { meta } = run(create(1), join(5, "u1"));
    expect(meta?.lastSeq).toBe(5);
    expect(foldRoom(meta, new Set(["u1"]), join(3, "x"), 3, T0).outcome).toBe("duplicate");
    expect(foldRoom(meta, new Set(["u1"]), join(6, "x"), 6, T0).outcome).toBe("applied");
  });

  it("drops an idle destroy once the room changed after it was found idle", () => {
    const idle = (seq: number, lastSeq: number) => ({
      ...destroy(seq, ROOM_STATUS.autoDestroyed),
      operationId: `room-idle:${lastSeq}`,
    });
    expect(run(create(1), join(2, "u1"), leave(3, ["u1"]), idle(4, 3)).folds[3]?.outcome).toBe("applied");
    expect(run(create(1), join(2, "u1"), leave(3, ["u1"]), idle(4, 1)).folds[3]?.outcome).toBe("stale_auto");
  });

  it("drops an automatic change that no longer applies instead of rejecting it", () => {
    expect(run(create(1), leave(2, ["u1"], ROOM_STATUS.autoKicked)).folds[1]?.outcome).toBe("stale_auto");
    expect(run(create(1), join(2, "u1"), destroy(3, ROOM_STATUS.autoDestroyed)).folds[2]?.outcome).toBe(
      "stale_auto",
    );
    expect(run(destroy(1, ROOM_STATUS.autoDestroyed)).folds[0]?.outcome).toBe("stale_auto");
    const kicked = run(create(1), join(2, "u1", "u2"), leave(3, ["u1", "u3"], ROOM_STATUS.autoKicked));
    expect(statusOf(kicked.folds[2]!)).toMatchObject({ userIds: ["u1"], status: 1, kind: ROOM_KIND.leave });
  });

  it("lets a destroyed room be created again, empty", () => {
    const { meta, members } = run(create(1), join(2, "u1"), destroy(3), create(4));
    expect(meta).toMatchObject({ exists: true, memberCount: 0, createdAt: T0 + 4 });
    expect(members.size).toBe(0);
  });
});
