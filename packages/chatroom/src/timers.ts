import { createHash } from "node:crypto";
import { Event, OfflineReason } from "@herald/proto";
import { ROOM_STATUS } from "./fold.js";

/** The automatic changes; every duration 0 turns its rule off. */
export interface ChatroomTimers {
  /** A member whose user stays offline this long leaves with status 1 (auto-kicked). */
  kickAfterMs: number;
  /** Added to the kick after an abnormal disconnect (DISCONNECT, TIMEOUT, node reset); RongCloud: 5 min. */
  abnormalDelayMs: number;
  /** An empty room is destroyed with status 3 after this long. */
  idleDestroyMs: number;
}

/** k.<app>.<user>: the user went offline; their rooms are left at `due` unless they come back. */
export interface KickTimer {
  /** The presence seq of the user.offline; a user.online with a higher seq cancels the timer. */
  seq: number;
  /** Wall-clock ms. */
  due: number;
  abnormal: boolean;
  causeEventId: string;
}

/** d.<app>.<room>: the room became empty at its change `seq`; destroyed at `due` if still so. */
export interface IdleTimer {
  seq: number;
  due: number;
}

const ABNORMAL = new Set([OfflineReason.OFFLINE_REASON_DISCONNECT, OfflineReason.OFFLINE_REASON_TIMEOUT]);

/** The kick timer a user.offline starts, or undefined when auto-kick is off or it is no user.offline. */
export function kickTimerFor(event: Event, timers: ChatroomTimers, now: number): KickTimer | undefined {
  const p = event.payload;
  if (p?.$case !== "userOffline" || timers.kickAfterMs <= 0) return undefined;
  const abnormal = ABNORMAL.has(p.value.reason) || p.value.nodeReset;
  const at = event.occurredAt?.getTime() ?? now;
  return {
    seq: p.value.seq,
    due: at + timers.kickAfterMs + (abnormal ? timers.abnormalDelayMs : 0),
    abnormal,
    causeEventId: event.id,
  };
}

export function encodeTimer(timer: KickTimer | IdleTimer): string {
  return JSON.stringify(timer);
}

export function decodeTimer<T extends KickTimer | IdleTimer>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

// Ids must stay within [A-Za-z0-9_:.-]; user and room ids may hold anything.
function digest(value: string): string {
  return createHash("sha256").update(value).digest("hex").slice(0, 16);
}

/** The room.left that an expired kick timer publishes; its id and bytes are the same on every replica. */
export function kickEvent(appId: string, userId: string, roomId: string, timer: KickTimer): Event {
  return Event.fromPartial({
    id: `${appId}:room-kick:${digest(userId)}:${timer.seq}:${digest(roomId)}`,
    appId,
    occurredAt: new Date(timer.due),
    operationId: timer.causeEventId,
    type: "room.left",
    payload: { $case: "roomLeft", value: { roomId, userIds: [userId], status: ROOM_STATUS.autoKicked } },
  });
}

/** The room.destroyed that an expired idle timer publishes. */
export function idleDestroyEvent(appId: string, roomId: string, timer: IdleTimer): Event {
  return Event.fromPartial({
    id: `${appId}:room-idle:${timer.seq}`,
    appId,
    occurredAt: new Date(timer.due),
    operationId: `room-idle:${timer.seq}`,
    type: "room.destroyed",
    payload: { $case: "roomDestroyed", value: { roomId, status: ROOM_STATUS.autoDestroyed } },
  });
}
