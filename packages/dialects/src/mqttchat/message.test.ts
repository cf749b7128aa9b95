import { readFileSync } from "node:fs";
import { Event, type DeepPartial, type MessageSent } from "@herald/proto";
import { describe, expect, it } from "vitest";
import { MissingOccurredAtError } from "../openim/presence-event.js";
import { renderMqttChatMessage } from "./message.js";

// The golden files hold the exact bytes; a text file's one trailing newline is not part of them.
function golden(name: string): string {
  return readFileSync(new URL(`../__golden__/mqttchat/${name}`, import.meta.url), "utf8").replace(/\n$/, "");
}

function sent(value: DeepPartial<MessageSent>, occurredAt: Date | undefined = new Date(1_000_000)): Event {
  return Event.fromPartial({
    id: "evt-1",
    appId: "app_1",
    occurredAt,
    payload: { $case: "messageSent", value },
  });
}

// Seed 000's message, sent at 1602511586 s plus milliseconds the body must drop.
const seed000 = { messageId: "138946", fromUserId: "2", toUserId: "3601", content: "ok", type: 0 };

describe("renderMqttChatMessage", () => {
  it("renders seed 000's message body byte for byte", () => {
    const event = sent({ ...seed000, sentAt: new Date(1602511586_999) });
    expect(renderMqttChatMessage(event)).toBe(golden("seed000-message.body.txt"));
  });

  it("takes the timestamp from occurredAt when sentAt is absent", () => {
    const body = renderMqttChatMessage(sent(seed000, new Date(1602511586_250)));
    expect(body).toBe(golden("seed000-message.body.txt"));
  });

  it("throws MissingOccurredAtError with neither time", () => {
    const untimed = Event.fromPartial({ id: "evt-1", payload: { $case: "messageSent", value: seed000 } });
    expect(() => renderMqttChatMessage(untimed)).toThrow(MissingOccurredAtError);
  });

  it("sends a group message to the group id, and keeps non-numeric ids as strings", () => {
    const body = renderMqttChatMessage(
      sent({ messageId: "m-1", fromUserId: "alice", groupId: "42", type: 2, p1: "a", p2: "b", p3: "c" }),
    );
    expect(body).toBe(
      '{"from_userid":"alice","message":{"id":"m-1","message":"","p1":"a","p2":"b","p3":"c","timestamp":1000,' +
        '"type":2},"to_userid":42}',
    );
  });

  it("renders nothing for other events", () => {
    const online = Event.fromPartial({ id: "e", payload: { $case: "userOnline", value: { userId: "1" } } });
    expect(renderMqttChatMessage(online)).toBeUndefined();
  });
});
