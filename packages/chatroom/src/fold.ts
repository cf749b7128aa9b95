import { Event, eventType } from "@herald/proto";
import { emptyRoomMeta } from "./state.js";
import type { RoomMeta } from "./state.js";

/** RongCloud's `status` of a change. */
export const ROOM_STATUS = Object.freeze({ api: 0, autoKicked: 1, banned: 2, autoDestroyed: 3 } as const);
/** RongCloud's `type` of a change (RoomStatus.kind). */
export const ROOM_KIND = Object.freeze({ create: 0, join: 1, leave: 2, destroy: 3 } as const);

/** Why a room event was not applied (RoomRejected.reason and the metric label). */
export type RoomRejectReason =
  "room_not_found" | "room_exists" | "not_a_member" | "already_a_member" | "no_users" | "missing_room_id";

/** A room event, whatever its payload case. */
export interface RoomChange {
  roomId: string;
  userIds: string[];
  status: number;
  kind: number;
}

/** The memberships a change makes or ends; `destroyed` ends every one of the room. */
export interface MembershipChange {
  joined: string[];
  left: string[];
  destroyed: boolean;
  /** When the change happened (ms): joinedAt of its memberships. */
  at: number;
}

export type RoomFold =
  /** The change at this sequence is already in the state. */
  | { outcome: "duplicate" }
  /** An automatic change (auto-kick, auto-destroy) that no longer applies: nothing to record. */
  | { outcome: "stale_auto" }
  | { outcome: "rejected"; reason: RoomRejectReason; derived: Event }
  | { outcome: "applied"; meta: RoomMeta; derived: Event; change: MembershipChange };

/** The room change an event carries, or undefined for anything but room.created/joined/left/destroyed. */
export function roomChange(event: Event): RoomChange | undefined {
  const p = event.payload;
  switch (p?.$case) {
    case "roomCreated":
      return { roomId: p.value.roomId, userIds: [], status: p.value.status, kind: ROOM_KIND.create };
    case "roomJoined":
      return {
        roomId: p.value.roomId,
        userIds: p.value.userIds,
        status: p.value.status,
        kind: ROOM_KIND.join,
      };
    case "roomLeft":
      return {
        roomId: p.value.roomId,
        userIds: p.value.userIds,
        status: p.value.status,
        kind: ROOM_KIND.leave,
      };
    case "roomDestroyed":
      return { roomId: p.value.roomId, userIds: [], status: p.value.status, kind: ROOM_KIND.destroy };
    default:
      return undefined;
  }
}

/** The id of a derived event: the Nats-Msg-Id, so replicas and redeliveries store it once. */
export function roomDerivedId(appId: string, what: "status" | "rejected", streamSeq: number): string {
  return `${appId}:room-${what}:${streamSeq}`;
}

/** The operationId of an automatic destroy: names the room's last seq when it was found idle. */
export function idleOperationId(lastSeq: number): string {
  return `room-idle:${lastSeq}`;
}

/**
 * The memberships an applied change made, from the event alone (for redoing a change whose side
 * keys a crashed owner may not have written).
 */
export function membershipChange(event: Event, now: number): MembershipChange {
  const change = roomChange(event);
  const at = event.occurredAt?.getTime() ?? now;
  const users = [...new Set(change?.userIds ?? [])];
  return {
    joined: change?.kind === ROOM_KIND.join ? users : [],
    left: change?.kind === ROOM_KIND.leave ? users : [],
    destroyed: change?.kind === ROOM_KIND.destroy,
    at,
  };
}

/**
 * Applies one room event (stored at `streamSeq`, folded at `now`, its stored time) to a room whose
 * members are `members`. Pure and deterministic, so a replay of EVENTS builds the same state. A
 * room's events are folded in stream order: a seq at or below the room's last is a redelivery.
 * Invalid transitions change nothing and derive a room.rejected.
 */
export function foldRoom(
  meta: RoomMeta | undefined,
  members: ReadonlySet<string>,
  event: Event,
  streamSeq: number,
  now: number,
): RoomFold {
  const change = roomChange(event);
  if (change === undefined) throw new TypeError(`event ${event.id} is not a room event`);
  if (meta !== undefined && streamSeq <= meta.lastSeq) return { outcome: "duplicate" };
  const time = event.occurredAt?.getTime() ?? now;
  const reject = (reason: RoomRejectReason, userIds = change.userIds): RoomFold => ({
    outcome: "rejected",
    reason,
    derived: Event.fromPartial({
      id: roomDerivedId(event.appId, "rejected", streamSeq),
      appId: event.appId,
      occurredAt: new Date(time),
      operationId: event.operationId,
      type: "room.rejected",
      payload: {
        $case: "roomRejected",
        value: {
          roomId: change.roomId,
          userIds,
          reason,
          causeEventId: event.id,
          causeType: event.type || eventType(event),
        },
      },
    }),
  });
  if (change.roomId === "") return reject("missing_room_id");
  const exists = meta?.exists === true;
  const automatic =
    (change.kind === ROOM_KIND.leave && change.status === ROOM_STATUS.autoKicked) ||
    (change.kind === ROOM_KIND.destroy && change.status === ROOM_STATUS.autoDestroyed);
  const current = meta ?? emptyRoomMeta(event.appId, change.roomId);
  const next: RoomMeta = {
    ...current,
    lastActivity: Math.max(current.lastActivity, time),
    lastSeq: streamSeq,
    changedAt: now,
  };
  const membership: MembershipChange = { joined: [], left: [], destroyed: false, at: time };
  let userIds: string[] = [];

  switch (change.kind) {
    case ROOM_KIND.create:
      if (exists) return reject("room_exists");
      Object.assign(next, { exists: true, createdAt: time, memberCount: 0 });
      break;
    case ROOM_KIND.join: {
      if (!exists) return reject("room_not_found");
      userIds = [...new Set(change.userIds)];
      if (userIds.length === 0) return reject("no_users");
      const already = userIds.filter((u) => members.has(u));
      if (already.length > 0) return reject("already_a_member", already);
      next.memberCount = current.memberCount + userIds.length;
      membership.joined = userIds;
      break;
    }
    case ROOM_KIND.leave: {
      if (!exists) return automatic ? { outcome: "stale_auto" } : reject("room_not_found");
      userIds = [...new Set(change.userIds)];
      if (automatic) userIds = userIds.filter((u) => members.has(u));
      if (userIds.length === 0) return automatic ? { outcome: "stale_auto" } : reject("no_users");
      const strangers = userIds.filter((u) => !members.has(u));
      if (strangers.length > 0) return reject("not_a_member", strangers);
      next.memberCount = current.memberCount - userIds.length;
      membership.left = userIds;
      break;
    }
    default:
      // An idle destroy names the state it found idle: any change since makes it stale.
      if (automatic && (!exists || current.memberCount > 0 || staleIdle(event, current)))
        return { outcome: "stale_auto" };
      if (!exists) return reject("room_not_found");
      Object.assign(next, { exists: false, memberCount: 0 });
      membership.destroyed = true;
  }

  const derived = Event.fromPartial({
    id: roomDerivedId(event.appId, "status", streamSeq),
    appId: event.appId,
    occurredAt: new Date(time),
    operationId: event.operationId,
    type: "room.status",
    payload: {
      $case: "roomStatus",
      value: {
        roomId: change.roomId,
        userIds,
        status: change.status,
        kind: change.kind,
        time,
        causeEventId: event.id,
      },
    },
  });
  return { outcome: "applied", meta: next, derived, change: membership };
}

function staleIdle(event: Event, meta: RoomMeta): boolean {
  const op = event.operationId;
  return op.startsWith("room-idle:") && op !== idleOperationId(meta.lastSeq);
}
