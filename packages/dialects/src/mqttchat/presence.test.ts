import { readFileSync } from "node:fs";
import { Event, OfflineReason, type DeepPartial } from "@herald/proto";
import { describe, expect, it } from "vitest";
import { MissingOccurredAtError } from "../openim/presence-event.js";
import { mqttChatUserId, renderMqttChatPresence } from "./presence.js";

// The golden files hold the exact bytes; a text file's one trailing newline is not part of them.
function golden(name: string): string {
  return readFileSync(new URL(`../__golden__/mqttchat/${name}`, import.meta.url), "utf8").replace(/\n$/, "");
}

// Seed 000's timestamp, 1602511574 s, plus milliseconds that the body must drop.
const SEED_TIME = new Date(1602511574_987);

function event(payload: DeepPartial<Event>["payload"], occurredAt: Date | undefined = SEED_TIME): Event {
  return Event.fromPartial({ id: "evt-1", appId: "app_1", occurredAt, operationId: "op-1", payload });
}

function online(userId: string): Event {
  return event({
    $case: "userOnline",
    value: { userId, seq: 1, connId: "c1", platformId: 5, platform: "Web" },
  });
}

describe("seed 000 presence body", () => {
  it("renders user.online for user 1 byte for byte", () => {
    expect(renderMqttChatPresence(online("1"))).toBe(golden("seed000-presence-online.body.txt"));
  });

  it("renders user.offline byte for byte", () => {
    const offline = event({
      $case: "userOffline",
      value: { userId: "1", seq: 2, connId: "c1", reason: OfflineReason.OFFLINE_REASON_DISCONNECT },
    });
    expect(renderMqttChatPresence(offline)).toBe(golden("seed000-presence-offline.body.txt"));
  });

  it("renders node.reset as userid 0 offline", () => {
    const reset = event({ $case: "nodeReset", value: { nodeId: "node-a" } });
    expect(renderMqttChatPresence(reset)).toBe(golden("seed000-presence-node-reset.body.txt"));
  });
});

describe("renderMqttChatPresence", () => {
  it("renders nothing for user.background and non-presence events", () => {
    const background = event({
      $case: "userBackground",
      value: { userId: "1", seq: 3, connId: "c1", isAppBackground: true },
    });
    expect(renderMqttChatPresence(background)).toBeUndefined();
    expect(renderMqttChatPresence(event({ $case: "nodeHeartbeat", value: { nodeId: "n" } }))).toBeUndefined();
    expect(renderMqttChatPresence(event(undefined))).toBeUndefined();
  });

  it("keeps a non-numeric user id as a string", () => {
    expect(renderMqttChatPresence(online("alice"))).toBe(
      '{"userid":"alice","status":"online","timestamp":1602511574}',
    );
  });

  it("keeps a numeric id beyond the safe integer range as a string", () => {
    expect(renderMqttChatPresence(online("9007199254740993"))).toBe(
      '{"userid":"9007199254740993","status":"online","timestamp":1602511574}',
    );
  });

  it("floors the timestamp to whole seconds before the epoch too", () => {
    const body = renderMqttChatPresence(event({ $case: "userOnline", value: { userId: "1" } }, new Date(-1)));
    expect(body).toBe('{"userid":1,"status":"online","timestamp":-1}');
  });

  it("throws MissingOccurredAtError without a time, having no clock", () => {
    const untimed = Event.fromPartial({
      id: "evt-9",
      payload: { $case: "nodeReset", value: { nodeId: "n" } },
    });
    expect(() => renderMqttChatPresence(untimed)).toThrow(MissingOccurredAtError);
  });
});

describe("mqttChatUserId", () => {
  it.each([
    ["1", 1],
    ["3601", 3601],
    ["9007199254740991", 9007199254740991],
  ])("writes canonical integer %s as a number", (userId, expected) => {
    expect(mqttChatUserId(userId)).toBe(expected);
  });

  // "0" stays a string: as a number it would be MQTT-chat's all-users-offline signal.
  it.each(["0", "007", "-1", "+1", "1.0", "1e3", " 1", "0x1", "", "9007199254740992", "alice"])(
    "keeps %j as a string",
    (userId) => {
      expect(mqttChatUserId(userId)).toBe(userId);
    },
  );
});
