import type { Bus } from "@herald/bus";
import { rebuildProjection } from "@herald/projection";
import type { RebuildReport } from "@herald/projection";
import type { Logger } from "@herald/runtime";
import { kicksProjection } from "./kicks.js";
import { roomsProjection } from "./rooms.js";
import type { ChatroomTimers } from "./timers.js";

export interface ChatroomRebuildOptions {
  log: Logger;
  /** The bucket to fill (default ROOMS); created when missing; it should be empty. */
  bucket?: string;
  /** The timers the live service runs with (default: all off): pending idle destroys and kicks come back as timers. */
  timers?: ChatroomTimers;
  /** The end of the replay's clock: timers due by then fire (default Date.now()). */
  now?: number;
}

export interface ChatroomRebuildReport {
  rooms: RebuildReport;
  /** Undefined while auto-kick is off. */
  kicks: RebuildReport | undefined;
}

/**
 * Replays the room lane (and, with auto-kick on, the user lane) of EVENTS from the start through
 * the live folds, and writes the rooms, memberships, index and kick timers they end with.
 * Nothing is published: automatic changes are events too, so they replay.
 */
export async function rebuildChatroom(
  bus: Bus,
  opts: ChatroomRebuildOptions,
): Promise<ChatroomRebuildReport> {
  const bucket = opts.bucket ?? bus.names.buckets.rooms;
  const timers = opts.timers ?? { kickAfterMs: 0, abnormalDelayMs: 0, idleDestroyMs: 0 };
  const replay = { log: opts.log, bucket, ...(opts.now === undefined ? {} : { now: opts.now }) };
  const rooms = await rebuildProjection(
    roomsProjection({ bucket, idleDestroyMs: timers.idleDestroyMs }),
    bus,
    replay,
  );
  const kicks =
    timers.kickAfterMs > 0
      ? await rebuildProjection(
          kicksProjection({ bucket, timers, userRooms: () => Promise.resolve([]) }),
          bus,
          replay,
        )
      : undefined;
  return { rooms, kicks };
}
