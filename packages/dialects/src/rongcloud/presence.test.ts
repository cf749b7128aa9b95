import { readFileSync } from "node:fs";
import { Event, OfflineReason, type DeepPartial } from "@herald/proto";
import { describe, expect, it } from "vitest";
import { MissingOccurredAtError } from "../openim/presence-event.js";
import { rongCloudOs, rongCloudPresenceRecord, type RongCloudPresenceRecord } from "./presence.js";

function golden(name: string): string {
  return readFileSync(new URL(`../__golden__/rongcloud/${name}`, import.meta.url), "utf8");
}

function event(payload: DeepPartial<Event>["payload"]): Event {
  return Event.fromPartial({
    id: "evt-1",
    appId: "app_1",
    occurredAt: new Date(1602511574_123),
    operationId: "op-1",
    payload,
  });
}

function offline(reason: OfflineReason): Event {
  return event({
    $case: "userOffline",
    value: { userId: "user123", seq: 2, connId: "conn456", platformId: 1, platform: "IOS", reason },
  });
}

// The record serialised as the deliverer will: key order matters to byte-level comparisons.
function expectRecord(record: RongCloudPresenceRecord | undefined, goldenName: string): void {
  const expected = golden(goldenName);
  expect(record).toStrictEqual(JSON.parse(expected));
  expect(JSON.stringify(record, null, 2)).toBe(expected.replace(/\n$/, ""));
}

describe("RongCloud online status record", () => {
  it("renders user.online as status 0 with os, ms time, client ip and the connection as sessionId", () => {
    const record = rongCloudPresenceRecord(
      event({
        $case: "userOnline",
        value: {
          userId: "user123",
          seq: 1,
          connId: "conn123",
          platformId: 5,
          platform: "Web",
          clientIp: "203.0.113.7:52344",
        },
      }),
    );
    expectRecord(record, "presence-online.record.json");
  });

  it("renders a logout as status 2", () => {
    expectRecord(
      rongCloudPresenceRecord(offline(OfflineReason.OFFLINE_REASON_LOGOUT)),
      "presence-logout.record.json",
    );
  });

  it.each([
    OfflineReason.OFFLINE_REASON_DISCONNECT,
    OfflineReason.OFFLINE_REASON_TIMEOUT,
    OfflineReason.OFFLINE_REASON_KICKED,
    OfflineReason.OFFLINE_REASON_UNSPECIFIED,
  ])("renders offline reason %i as status 1", (reason) => {
    expect(rongCloudPresenceRecord(offline(reason))?.status).toBe("1");
  });

  it("renders nothing for user.background and node.reset", () => {
    const background = event({ $case: "userBackground", value: { userId: "u1", isAppBackground: true } });
    expect(rongCloudPresenceRecord(background)).toBeUndefined();
    expect(rongCloudPresenceRecord(event({ $case: "nodeReset", value: { nodeId: "n" } }))).toBeUndefined();
  });

  it("throws MissingOccurredAtError without a time", () => {
    const untimed = Event.fromPartial({
      id: "evt-9",
      payload: { $case: "userOnline", value: { userId: "u1" } },
    });
    expect(() => rongCloudPresenceRecord(untimed)).toThrow(MissingOccurredAtError);
  });
});

describe("rongCloudOs", () => {
  it.each([
    [1, "IOS", "iOS"],
    [2, "Android", "Android"],
    [3, "Windows", "PC"],
    [4, "OSX", "PC"],
    [5, "Web", "Websocket"],
    [6, "MiniWeb", "MiniProgram"],
    [7, "Linux", "PC"],
    [8, "APad", "Android"],
    [9, "IPad", "iOS"],
    [10, "Admin", "Admin"],
    [42, "HarmonyOS", "HarmonyOS"],
  ])("maps platform %i (%s) to %s", (platformId, platform, os) => {
    expect(rongCloudOs(platformId, platform)).toBe(os);
  });
});
