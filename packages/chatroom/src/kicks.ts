import type { ProjectionDefinition } from "@herald/projection";
import { roomKeys } from "./keys.js";
import type { ChatroomHooks } from "./rooms.js";
import { decodeKickTimer, encodeKickTimer, kickDue, kickEvent, kickTimerFor } from "./timers.js";
import type { ChatroomTimersOf, KickTimer } from "./timers.js";

export interface KicksProjectionOptions {
  /** The ROOMS bucket's name (bus.names.buckets.rooms). */
  bucket: string;
  /** The timers of each app, read at each fold and each timer. */
  timers: ChatroomTimersOf;
  /** The rooms a user is in now (the u. index the rooms projection keeps). */
  userRooms(appId: string, userId: string): Promise<string[]>;
  hooks?: ChatroomHooks;
}

/** The projection kit's name for auto-kicks: lease.kicks.<p>, ckpt.kicks.<p>. */
export const KICKS_PROJECTION = "kicks";

/**
 * Auto-kick as a projection: presence's user lane folded per user, in the partition of the user.
 * A user.offline sets the user's kick timer (state and timer of k.<p>.<app>.<user>); a user.online
 * with a higher presence seq removes it. When it fires, the user's rooms are read from the u. index
 * as the batch is written (ctx.publishAsync: a fold cannot read) and one room.left (status 1) per
 * room is published; each lands in its room's partition and is folded by the rooms projection,
 * which drops it if the user left meanwhile. A crash before the timer's removal is written fires it
 * again after the load: the same ids, stored once within the stream's duplicate window.
 * It runs whatever the settings, since any app may turn auto-kick on; a user.offline of an app with
 * auto-kick off is dropped before any key is built. A timer that comes due is checked against the
 * app's settings then: off since, it is dropped; lengthened, it waits again.
 */
export function kicksProjection(opts: KicksProjectionOptions): ProjectionDefinition<KickTimer> {
  const hooks = opts.hooks ?? {};
  return {
    name: KICKS_PROJECTION,
    lane: "user",
    bucket: opts.bucket,
    stateFilter: roomKeys.kicks,
    encode: encodeKickTimer,
    decode: (_key, data) => decodeKickTimer(data),

    apply(ctx, event) {
      const p = event.payload;
      if (p?.$case !== "userOnline" && p?.$case !== "userOffline") return;
      // Auto-kick off for the app: an offline sets nothing (an online may still cancel an earlier timer).
      if (p.$case === "userOffline" && opts.timers(event.appId).kickAfterMs <= 0) return;
      const key = roomKeys.kick(ctx.partition, event.appId, p.value.userId);
      const current = ctx.get(key);
      // Presence numbers a user's changes; a replay after a load may bring ones already folded.
      if (current !== undefined && current.seq >= p.value.seq) return;
      if (p.$case === "userOnline") {
        if (current === undefined) return;
        ctx.delete(key);
        ctx.setTimer(key, undefined);
        return;
      }
      const timer = kickTimerFor(event, opts.timers(event.appId), ctx.now());
      if (timer === undefined) return;
      ctx.set(key, timer);
      ctx.setTimer(key, timer.due);
    },

    fire(ctx, key) {
      const timer = ctx.get(key);
      if (timer === undefined) return;
      const due = kickDue(timer, opts.timers(timer.appId));
      if (due !== undefined && due > ctx.now()) {
        const later = { ...timer, due };
        ctx.set(key, later);
        ctx.setTimer(key, due);
        return;
      }
      ctx.delete(key);
      if (due === undefined) return; // auto-kick turned off for the app since the user went offline
      ctx.publishAsync(async () => {
        const rooms = await opts.userRooms(timer.appId, timer.userId);
        for (const _ of rooms) hooks.automatic?.("kick");
        return rooms.map((roomId) => kickEvent(roomId, timer));
      });
    },

    retime(ctx, appId) {
      // A shorter kick moves the wait; a kick turned off drops it (fire drops it as well).
      const waiting = [...ctx.entries()].filter(([, timer]) => timer.appId === appId);
      for (const [key, timer] of waiting) {
        const due = kickDue(timer, opts.timers(appId));
        if (due === undefined) {
          ctx.delete(key);
          ctx.setTimer(key, undefined);
        } else if (due !== timer.due) {
          ctx.set(key, { ...timer, due });
          ctx.setTimer(key, due);
        }
      }
    },

    loaded(ctx) {
      for (const [key, timer] of ctx.entries()) ctx.setTimer(key, timer.due);
    },
  };
}
