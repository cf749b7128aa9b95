import type { Event } from "./gen/herald/v1/event.js";
import type { EventPayloadCase } from "./event-type.js";

/**
 * The lane of EVENTS an event is stored in: one subject token, so that a projection reads exactly
 * its input (one filter per consumer is all nats-server 2.9 takes) and never its own output.
 * - conn: connection and node events, presence's input;
 * - user: user.* that presence derives, the chatroom's kick timers' input;
 * - room: room.created/joined/left/destroyed, the chatroom's input;
 * - roomout: room.status and room.rejected that the chatroom derives;
 * - msg: messages and OpenIM passthroughs, read by delivery only;
 * - ops: operational events (endpoint.*) that the deliverer derives, read by delivery only.
 */
export type EventLane = "conn" | "user" | "room" | "roomout" | "msg" | "ops";

export const EVENT_LANES: readonly EventLane[] = Object.freeze([
  "conn",
  "user",
  "room",
  "roomout",
  "msg",
  "ops",
]);

const LANE_BY_CASE = {
  connectionOnline: "conn",
  connectionOffline: "conn",
  connectionBackground: "conn",
  nodeReset: "conn",
  nodeHeartbeat: "conn",
  nodeLeaseCheck: "conn",
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
  endpointDisabled: "ops",
  endpointPaused: "ops",
  endpointEnabled: "ops",
  endpointFailing: "ops",
  endpointRecovered: "ops",
} as const satisfies Record<EventPayloadCase, EventLane>;

/** The lane of an event with a payload (`msg` for none: the gateway refuses those first). */
export function eventLane(event: Event): EventLane {
  const c = event.payload?.$case;
  return c === undefined ? "msg" : LANE_BY_CASE[c];
}

type KeyKind = "user" | "node" | "room" | "group" | "conv" | "endpoint" | "event";

/**
 * What an event is about: the user for connection and presence events, the node for node events,
 * the room for room events, the endpoint for operational events, the conversation for messages (the group, or the two users of a single
 * chat whoever sent), and the event itself when nothing else names one (a passthrough).
 */
function keyOf(event: Event): { kind: KeyKind; id: string } {
  const p = event.payload;
  switch (p?.$case) {
    case "connectionOnline":
    case "connectionOffline":
    case "connectionBackground":
    case "userOnline":
    case "userOffline":
    case "userBackground":
      return { kind: "user", id: p.value.userId };
    case "nodeReset":
    case "nodeHeartbeat":
    case "nodeLeaseCheck":
      return { kind: "node", id: p.value.nodeId };
    case "roomCreated":
    case "roomJoined":
    case "roomLeft":
    case "roomDestroyed":
    case "roomStatus":
    case "roomRejected":
      return { kind: "room", id: p.value.roomId };
    case "endpointDisabled":
    case "endpointPaused":
    case "endpointEnabled":
    case "endpointFailing":
    case "endpointRecovered":
      return { kind: "endpoint", id: p.value.endpointId };
    case "messageSent": {
      const { groupId, fromUserId, toUserId } = p.value;
      if (groupId !== "") return { kind: "group", id: groupId };
      if (fromUserId === "" && toUserId === "") return { kind: "event", id: event.id };
      return { kind: "conv", id: JSON.stringify([fromUserId, toUserId].sort()) };
    }
    default:
      return { kind: "event", id: event.id };
  }
}

/**
 * The key that picks an event's partition: the user, node or room itself; for messages the
 * conversation (so both sides of a chat, and every member of a group, are stored and routed in one
 * partition, in order), and for a passthrough the event. Events with one key are folded, and
 * delivered, in the order they were stored.
 */
export function partitionKey(event: Event): string {
  const { kind, id } = keyOf(event);
  return kind === "user" || kind === "node" || kind === "room" ? id : `${kind}:${id}`;
}

/**
 * The key whose callbacks an endpoint with ordering `key` receives one after another, prefixed by
 * kind ("user:u1", "room:r1", "group:g1", `conv:["a","b"]`, "node:n1", "event:e1"), so a user and a
 * room with the same id are different keys.
 */
export function deliveryKey(event: Event): string {
  const { kind, id } = keyOf(event);
  return `${kind}:${id}`;
}

/**
 * True for events that every partition of their lane must see: a node.reset concerns every user
 * who held a connection on the node, whatever partition that user is in.
 */
export function reachesEveryPartition(event: Event): boolean {
  return event.payload?.$case === "nodeReset";
}
