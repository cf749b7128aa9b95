import { readFileSync } from "node:fs";
import { Event, type DeepPartial } from "@herald/proto";
import { describe, expect, it } from "vitest";
import { renderRongCloudChatroomBatch, rongCloudChatroomRecord } from "./chatroom.js";

// RongCloud's documented example body (seed 001); the body goes out compact, keys in this order.
const golden = readFileSync(
  new URL("../__golden__/rongcloud/chatroom-status.batch.json", import.meta.url),
  "utf8",
);

function event(payload: DeepPartial<Event>["payload"]): Event {
  return Event.fromPartial({ id: "app_1:room-status:7", appId: "app_1", operationId: "op-1", payload });
}

describe("RongCloud chatroom status sync", () => {
  it("renders room.status records as the documented JSON array, byte for byte", () => {
    const records = [
      rongCloudChatroomRecord(
        event({
          $case: "roomStatus",
          value: { roomId: "destory_11", userIds: ["gggg"], status: 0, kind: 1, time: 1574476797772 },
        }),
      ),
      rongCloudChatroomRecord(
        event({
          $case: "roomStatus",
          value: { roomId: "destory_12", userIds: [], status: 0, kind: 0, time: 1574476797772 },
        }),
      ),
    ];
    const defined = records.filter((r) => r !== undefined);
    expect(defined).toHaveLength(2);
    const body = renderRongCloudChatroomBatch(defined);
    expect(body).toBe(JSON.stringify(JSON.parse(golden)));
    expect(body).toBe(
      '[{"chatRoomId":"destory_11","userIds":["gggg"],"status":0,"type":1,"time":1574476797772},' +
        '{"chatRoomId":"destory_12","userIds":[],"status":0,"type":0,"time":1574476797772}]',
    );
  });

  it("carries an auto-kick's status 1 and type 2 with every user", () => {
    const record = rongCloudChatroomRecord(
      event({
        $case: "roomStatus",
        value: { roomId: "r", userIds: ["a", "b"], status: 1, kind: 2, time: 5 },
      }),
    );
    expect(record).toStrictEqual({ chatRoomId: "r", userIds: ["a", "b"], status: 1, type: 2, time: 5 });
  });

  it("renders nothing for other events, a rejection included", () => {
    expect(
      rongCloudChatroomRecord(event({ $case: "roomJoined", value: { roomId: "r", userIds: ["a"] } })),
    ).toBe(undefined);
    expect(
      rongCloudChatroomRecord(
        event({ $case: "roomRejected", value: { roomId: "r", reason: "room_not_found" } }),
      ),
    ).toBe(undefined);
  });

  it("renders an empty batch as an empty array", () => {
    expect(renderRongCloudChatroomBatch([])).toBe("[]");
  });
});
