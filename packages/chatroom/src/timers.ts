import { createHash } from "node:crypto";
import { Event, OfflineReason } from "@herald/proto";
import { idleOperationId, ROOM_STATUS } from "./fold.js";

/** The automatic changes; every duration 0 turns its rule off. */
export interface ChatroomTimers {
  /** A member whose user stays offline this long leaves with status 1 (auto-kicked). */
  kickAfterMs: number;
  /** Added to the kick after an abnormal disconnect (DISCONNECT, TIMEOUT, node reset); RongCloud: 5 min. */
  abnormalDelayMs: number;
  /** An empty room is destroyed with status 3 after this long. */
  idleDestroyMs: number;
}

/** The timers of an app as they are now: read at each fold and timer, so a change applies without a restart. */
export type ChatroomTimersOf = (appId: string) => ChatroomTimers;

export const TIMERS_OFF: ChatroomTimers = Object.freeze({
  kickAfterMs: 0,
  abnormalDelayMs: 0,
  idleDestroyMs: 0,
});

/** The same timers for every app (default: every rule off). */
export function fixedChatroomTimers(timers: Partial<ChatroomTimers> = {}): ChatroomTimersOf {
  const fixed = Object.freeze({ ...TIMERS_OFF, ...timers });
  return () => fixed;
}

/** k.<p>.<app>.<user>: the user went offline; their rooms are left at `due` unless they come back. */
export interface KickTimer {
  appId: string;
  userId: string;
  /** The presence seq of the user.offline; a user.online with a higher seq cancels the timer. */
  seq: number;
  /** Ms since the epoch, on the fold's clock (stored times). */
  due: number;
  abnormal: boolean;
  causeEventId: string;
  /** When the user went offline (ms since the epoch), so `due` can be worked out again under new settings. */
  offlineAt?: number;
}

const ABNORMAL = new Set([OfflineReason.OFFLINE_REASON_DISCONNECT, OfflineReason.OFFLINE_REASON_TIMEOUT]);

/** The kick timer a user.offline starts, or undefined when auto-kick is off or it is no user.offline. */
export function kickTimerFor(event: Event, timers: ChatroomTimers, now: number): KickTimer | undefined {
  const p = event.payload;
  if (p?.$case !== "userOffline" || timers.kickAfterMs <= 0) return undefined;
  const abnormal = ABNORMAL.has(p.value.reason) || p.value.nodeReset;
  const at = event.occurredAt?.getTime() ?? now;
  return {
    appId: event.appId,
    userId: p.value.userId,
    seq: p.value.seq,
    due: at + timers.kickAfterMs + (abnormal ? timers.abnormalDelayMs : 0),
    abnormal,
    causeEventId: event.id,
    offlineAt: at,
  };
}

/**
 * When a kick timer is due under `timers` (the app's settings now): undefined when auto-kick is now off
 * for the app. A timer stored before offlineAt was kept stays at its own due time.
 */
export function kickDue(timer: KickTimer, timers: ChatroomTimers): number | undefined {
  if (timers.kickAfterMs <= 0) return undefined;
  if (timer.offlineAt === undefined) return timer.due;
  return timer.offlineAt + timers.kickAfterMs + (timer.abnormal ? timers.abnormalDelayMs : 0);
}

export function encodeKickTimer(timer: KickTimer): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(timer));
}

export function decodeKickTimer(data: Uint8Array): KickTimer {
  return JSON.parse(new TextDecoder().decode(data)) as KickTimer;
}

// Ids must stay within [A-Za-z0-9_:.-]; user and room ids may hold anything.
function digest(value: string): string {
  return createHash("sha256").update(value).digest("hex").slice(0, 16);
}

/** The room.left that an expired kick timer publishes; its id and bytes are the same whoever derives it. */
export function kickEvent(roomId: string, timer: KickTimer): Event {
  return Event.fromPartial({
    id: `${timer.appId}:room-kick:${digest(timer.userId)}:${timer.seq}:${digest(roomId)}`,
    appId: timer.appId,
    occurredAt: new Date(timer.due),
    operationId: timer.causeEventId,
    type: "room.left",
    payload: {
      $case: "roomLeft",
      value: { roomId, userIds: [timer.userId], status: ROOM_STATUS.autoKicked },
    },
  });
}

/**
 * The room.destroyed of a room found idle at its change `lastSeq`, `due` being when; its
 * operationId names that seq, so the fold drops it if the room changed since.
 */
export function idleDestroyEvent(appId: string, roomId: string, lastSeq: number, due: number): Event {
  return Event.fromPartial({
    id: `${appId}:room-idle:${lastSeq}`,
    appId,
    occurredAt: new Date(due),
    operationId: idleOperationId(lastSeq),
    type: "room.destroyed",
    payload: { $case: "roomDestroyed", value: { roomId, status: ROOM_STATUS.autoDestroyed } },
  });
}
