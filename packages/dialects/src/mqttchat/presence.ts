import type { Event } from "@herald/proto";
import { occurredAtMs } from "../openim/presence-event.js";

/** MQTT-chat's user id for "every user": `{"userid":0,"status":"offline"}` marks them all offline. */
export const MQTT_CHAT_ALL_USERS = 0;

// Canonical: no sign, no leading zero ("007" is not 7), no exponent or fraction.
const CANONICAL_POSITIVE_INTEGER = /^[1-9][0-9]*$/;

/**
 * The presence callback body, `{"userid":…,"status":"online"|"offline","timestamp":<unix seconds>}`, for
 * user.online, user.offline and node.reset (userid 0, offline). user.background renders nothing.
 */
export function renderMqttChatPresence(event: Event): string | undefined {
  const payload = event.payload;
  switch (payload?.$case) {
    case "userOnline":
      return presenceBody(mqttChatUserId(payload.value.userId), "online", event);
    case "userOffline":
      return presenceBody(mqttChatUserId(payload.value.userId), "offline", event);
    case "nodeReset":
      return presenceBody(MQTT_CHAT_ALL_USERS, "offline", event);
    default:
      return undefined;
  }
}

/**
 * A user id as MQTT-chat writes it: a JSON number when it is a canonical integer within the safe range,
 * else the string. User "0" stays a string so that one user's change can never read as the all-users reset.
 */
export function mqttChatUserId(userId: string): number | string {
  if (!CANONICAL_POSITIVE_INTEGER.test(userId)) return userId;
  const value = Number(userId);
  return Number.isSafeInteger(value) ? value : userId;
}

function presenceBody(userid: number | string, status: "online" | "offline", event: Event): string {
  const timestamp = Math.floor(occurredAtMs(event) / 1000);
  return JSON.stringify({ userid, status, timestamp });
}
