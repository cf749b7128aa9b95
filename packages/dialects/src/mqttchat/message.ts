import type { Event } from "@herald/proto";
import { occurredAtMs } from "../openim/presence-event.js";
import { mqttChatUserId } from "./presence.js";

/**
 * The message callback body for msg.sent (seed 000):
 * `{"from_userid":…,"message":{"id","message","p1","p2","p3","timestamp","type"},"to_userid":…}`, keys in
 * the seed's order. Ids follow mqttChatUserId (canonical integers as numbers); `timestamp` is unix seconds of
 * sentAt, else occurredAt. A group message has the group id as `to_userid`: MQTT-chat knows no groups.
 * Other events render nothing.
 */
export function renderMqttChatMessage(event: Event): string | undefined {
  const payload = event.payload;
  if (payload?.$case !== "messageSent") return undefined;
  const sent = payload.value;
  const sentAtMs = sent.sentAt === undefined ? occurredAtMs(event) : sent.sentAt.getTime();
  return JSON.stringify({
    from_userid: mqttChatUserId(sent.fromUserId),
    message: {
      id: mqttChatUserId(sent.messageId),
      message: sent.content,
      p1: sent.p1,
      p2: sent.p2,
      p3: sent.p3,
      timestamp: Math.floor(sentAtMs / 1000),
      type: sent.type,
    },
    to_userid: mqttChatUserId(sent.groupId === "" ? sent.toUserId : sent.groupId),
  });
}
