import { describe, expect, it } from "vitest";
import { Event, OfflineReason } from "@herald/proto";
import { idleDestroyEvent, kickEvent, kickTimerFor } from "./timers.js";

const AT = 1_700_000_000_000;
const timers = { kickAfterMs: 30_000, abnormalDelayMs: 300_000, idleDestroyMs: 60_000 };

function offline(reason: OfflineReason, nodeReset = false): Event {
  return Event.fromPartial({
    id: "a:u:presence:7",
    appId: "a",
    occurredAt: new Date(AT),
    payload: { $case: "userOffline", value: { userId: "u", seq: 7, reason, nodeReset } },
  });
}

describe("chatroom timers", () => {
  it("kicks after the threshold, plus the abnormal delay after a disconnect, timeout or node reset", () => {
    expect(kickTimerFor(offline(OfflineReason.OFFLINE_REASON_LOGOUT), timers, 0)).toEqual({
      appId: "a",
      userId: "u",
      seq: 7,
      due: AT + 30_000,
      abnormal: false,
      causeEventId: "a:u:presence:7",
      offlineAt: AT,
    });
    for (const abnormal of [
      offline(OfflineReason.OFFLINE_REASON_DISCONNECT),
      offline(OfflineReason.OFFLINE_REASON_TIMEOUT),
      offline(OfflineReason.OFFLINE_REASON_UNSPECIFIED, true),
    ]) {
      expect(kickTimerFor(abnormal, timers, 0)).toMatchObject({ due: AT + 330_000, abnormal: true });
    }
  });

  it("starts no timer when auto-kick is off", () => {
    expect(kickTimerFor(offline(OfflineReason.OFFLINE_REASON_LOGOUT), { ...timers, kickAfterMs: 0 }, 0)).toBe(
      undefined,
    );
  });

  it("derives the same automatic event, id and bytes, every time", () => {
    const timer = {
      appId: "a",
      userId: "user with spaces",
      seq: 7,
      due: AT,
      abnormal: false,
      causeEventId: "x",
    };
    const a = kickEvent("room.1", timer);
    expect(Event.encode(a).finish()).toEqual(Event.encode(kickEvent("room.1", { ...timer })).finish());
    expect(a.id).toMatch(/^a:room-kick:[0-9a-f]{16}:7:[0-9a-f]{16}$/);
    expect(a.payload).toEqual({
      $case: "roomLeft",
      value: { roomId: "room.1", userIds: ["user with spaces"], status: 1 },
    });
    const idle = idleDestroyEvent("a", "r", 9, AT);
    expect(idle).toMatchObject({
      id: "a:room-idle:9",
      operationId: "room-idle:9",
      type: "room.destroyed",
      occurredAt: new Date(AT),
    });
    expect(idle.payload).toEqual({ $case: "roomDestroyed", value: { roomId: "r", status: 3 } });
  });
});
