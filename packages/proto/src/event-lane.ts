import type { Event } from "./gen/herald/v1/event.js";
import type { EventPayloadCase } from "./event-type.js";

/**
 * The lane of EVENTS an event is stored in: one subject token, so that a projection reads exactly
 * its input (one filter per consumer is all nats-server 2.9 takes) and never its own output.
 * - conn: connection and node events, presence's input;
 * - user: user.* that presence derives, the chatroom's kick timers' input;
 * - room: room.created/joined/left/destroyed, the chatroom's input;
 * - roomout: room.status and room.rejected that the chatroom derives;
 * - msg: messages and OpenIM passthroughs, read by delivery only.
 */
export type EventLane = "conn" | "user" | "room" | "roomout" | "msg";

export const EVENT_LANES: readonly EventLane[] = Object.freeze(["conn", "user", "room", "roomout", "msg"]);

const LANE_BY_CASE = {
  connectionOnline: "conn",
  connectionOffline: "conn",
  connectionBackground: "conn",
  nodeReset: "conn",
  nodeHeartbeat: "conn",
  messageSent: "msg",
  passthrough: "msg",
  roomCreated: "room",
  roomJoined: "room",
  roomLeft: "room",
  roomDestroyed: "room",
  userOnline: "user",
  userOffline: "user",
  userBackground: "user",
  roomStatus: "roomout",
  roomRejected: "roomout",
} as const satisfies Record<EventPayloadCase, EventLane>;

/** The lane of an event with a payload (`msg` for none: the gateway refuses those first). */
export function eventLane(event: Event): EventLane {
  const c = event.payload?.$case;
  return c === undefined ? "msg" : LANE_BY_CASE[c];
}

/**
 * What an event is about, which picks its partition: the user for connection and presence events,
 * the room for room events, the node for node events, the conversation for messages (so that both
 * sides of a chat, and every member of a group, are stored and routed in one partition, in order),
 * and the event itself when nothing else names a key (a passthrough). Events with one key are
 * folded, and delivered, in the order they were stored.
 */
export function partitionKey(event: Event): string {
  const p = event.payload;
  switch (p?.$case) {
    case "connectionOnline":
    case "connectionOffline":
    case "connectionBackground":
    case "userOnline":
    case "userOffline":
    case "userBackground":
      return p.value.userId;
    case "nodeReset":
    case "nodeHeartbeat":
      return p.value.nodeId;
    case "roomCreated":
    case "roomJoined":
    case "roomLeft":
    case "roomDestroyed":
    case "roomStatus":
    case "roomRejected":
      return p.value.roomId;
    case "messageSent":
      return deliveryKey(event);
    default:
      return event.id;
  }
}

/**
 * True for events that every partition of their lane must see: a node.reset concerns every user
 * who held a connection on the node, whatever partition that user is in.
 */
export function reachesEveryPartition(event: Event): boolean {
  return event.payload?.$case === "nodeReset";
}

/**
 * The key whose callbacks an endpoint with ordering `key` receives one after another: the user for
 * presence and connection events, the room for room events, the node for node events, the
 * conversation for messages (the group, or the two users of a single chat whoever sent), and the
 * event itself when nothing else names one. Prefixed by kind, so a user and a room with the same id
 * are different keys.
 */
export function deliveryKey(event: Event): string {
  const p = event.payload;
  switch (p?.$case) {
    case "connectionOnline":
    case "connectionOffline":
    case "connectionBackground":
    case "userOnline":
    case "userOffline":
    case "userBackground":
      return `user:${p.value.userId}`;
    case "nodeReset":
    case "nodeHeartbeat":
      return `node:${p.value.nodeId}`;
    case "roomCreated":
    case "roomJoined":
    case "roomLeft":
    case "roomDestroyed":
    case "roomStatus":
    case "roomRejected":
      return `room:${p.value.roomId}`;
    case "messageSent": {
      const { groupId, fromUserId, toUserId } = p.value;
      if (groupId !== "") return `group:${groupId}`;
      if (fromUserId === "" && toUserId === "") return `event:${event.id}`;
      return `conv:${JSON.stringify([fromUserId, toUserId].sort())}`;
    }
    default:
      return `event:${event.id}`;
  }
}
