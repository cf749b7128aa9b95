import { randomUUID } from "node:crypto";
import { Event, type DeepPartial } from "@herald/proto";

/** The event types a test send can take. */
export const TEST_EVENT_TYPES = ["msg.sent", "user.online", "user.offline", "room.status"] as const;
export type TestEventType = (typeof TEST_EVENT_TYPES)[number];
const TEST_USER = "herald-test";

/** A synthetic event of `type`, plainly marked as a test in its ids and content. */
export function testEvent(appId: string, type: TestEventType): Event {
  const now = new Date();
  const base = {
    id: `test-${randomUUID()}`,
    appId,
    occurredAt: now,
    operationId: `test-${randomUUID()}`,
    type,
  };
  const payloads: Record<TestEventType, DeepPartial<Event>["payload"]> = {
    "msg.sent": {
      $case: "messageSent",
      value: {
        messageId: "test",
        fromUserId: TEST_USER,
        toUserId: TEST_USER,
        content: "test event from the Herald admin API",
        contentType: 101,
        sentAt: now,
      },
    },
    "user.online": {
      $case: "userOnline",
      value: { userId: TEST_USER, seq: 1, connId: "test", platformId: 1, platform: "test" },
    },
    "user.offline": {
      $case: "userOffline",
      value: { userId: TEST_USER, seq: 2, connId: "test", platformId: 1 },
    },
    "room.status": {
      $case: "roomStatus",
      value: { roomId: TEST_USER, status: 0, kind: 0, time: now.getTime() },
    },
  };
  return Event.fromPartial({ ...base, payload: payloads[type] });
}
