import type { Bus } from "@herald/bus";
import { rebuildProjection } from "@herald/projection";
import type { RebuildReport } from "@herald/projection";
import type { Logger } from "@herald/runtime";
import { kicksProjection } from "./kicks.js";
import { roomsProjection } from "./rooms.js";
import { fixedChatroomTimers } from "./timers.js";
import type { ChatroomTimersOf } from "./timers.js";

export interface ChatroomRebuildOptions {
  log: Logger;
  /** The bucket to fill (default ROOMS); created when missing; it should be empty. */
  bucket?: string;
  /**
   * The timers the live service runs with (default: all off for every app): pending idle destroys and
   * kicks come back as timers. A fold reads them as they are at the rebuild, not as they were when the
   * event was first folded: settings changed since may make a rebuilt timer differ from the live one.
   */
  timers?: ChatroomTimersOf;
  /** The end of the replay's clock: timers due by then fire (default Date.now()). */
  now?: number;
}

export interface ChatroomRebuildReport {
  rooms: RebuildReport;
  kicks: RebuildReport;
}

/**
 * Replays the room lane and the user lane of EVENTS from the start through
 * the live folds, and writes the rooms, memberships, index and kick timers they end with.
 * Nothing is published: automatic changes are events too, so they replay.
 */
export async function rebuildChatroom(
  bus: Bus,
  opts: ChatroomRebuildOptions,
): Promise<ChatroomRebuildReport> {
  const bucket = opts.bucket ?? bus.names.buckets.rooms;
  const timers = opts.timers ?? fixedChatroomTimers();
  const replay = { log: opts.log, bucket, ...(opts.now === undefined ? {} : { now: opts.now }) };
  const rooms = await rebuildProjection(roomsProjection({ bucket, timers }), bus, replay);
  const kicks = await rebuildProjection(
    kicksProjection({ bucket, timers, userRooms: () => Promise.resolve([]) }),
    bus,
    replay,
  );
  return { rooms, kicks };
}
