import { DERIVED_PAYLOAD_CASES, Event } from "@herald/proto";
import { publishEvent, KeyedQueue } from "@herald/bus";
import type { Bus, Delivery } from "@herald/bus";
import { RetryableError, TerminalError } from "@herald/runtime";
import type { Logger } from "@herald/runtime";
import type { KV } from "@nats-io/kv";
import { foldRoom, roomChange } from "./fold.js";
import type { RoomRejectReason } from "./fold.js";
import { roomKeys } from "./keys.js";
import { outboxEvents } from "./state.js";
import type { RoomMeta } from "./state.js";
import { RoomConflictError, RoomStore } from "./store.js";
import { decodeTimer, encodeTimer, idleDestroyEvent, kickEvent, kickTimerFor } from "./timers.js";
import type { ChatroomTimers, IdleTimer, KickTimer } from "./timers.js";

/** Counters the service keeps; every hook is optional. */
export interface ChatroomHooks {
  folded?(type: string): void;
  rejected?(reason: RoomRejectReason): void;
  /** An automatic change that no longer applied (the user had left, the room was no longer empty). */
  staleAutomatic?(): void;
  derived?(type: string, duplicate: boolean): void;
  automatic?(kind: "kick" | "idle_destroy", duplicate: boolean): void;
  conflict?(): void;
}

export interface ChatroomProcessorOptions {
  bus: Bus;
  log: Logger;
  timers: ChatroomTimers;
  hooks?: ChatroomHooks;
  /** The clock; Date.now by default. */
  now?: () => number;
  /** True when every room event stored before `seq` is acked (the engine asks its consumer). */
  earlierSettled?: (seq: number) => Promise<boolean>;
  /** How many rejections may wait for earlier events at once (default 1). */
  maxWaiting?: number;
}

/** A rejection waits for earlier events still in flight; it is tried again shortly. */
export class RoomOrderPendingError extends RetryableError {
  override readonly name = "RoomOrderPendingError";
  constructor(
    readonly key: string,
    readonly seq: number,
    options?: ErrorOptions,
  ) {
    super(`room event ${seq} of ${key} waits for earlier events`, options);
  }
}

export interface ChatroomProcessor {
  /** Folds one stored room event; resolves once the state is written and its record is stored. */
  handleRoomEvent(d: Delivery): Promise<void>;
  /** Starts or cancels the auto-kick of a user from a derived user.online / user.offline. */
  handleUserEvent(d: Delivery): Promise<void>;
  /** Publishes the automatic changes whose time has come; resolves with the timers looked at. */
  sweep(): Promise<number>;
}

// Within the stream's duplicate window (2 min), with room for the ack wait of a redelivery.
const REPUBLISH_WITHIN_MS = 60_000;
const CAS_ATTEMPTS = 10;
const LONG_CHANGE_USERS = 500;
// How long a rejection waits for earlier events still in flight (another replica may hold them).
const EARLIER_POLL_MS = 50;
const EARLIER_POLLS = 200;

/** The work of the chatroom service for one process: folds, writes with CAS, publishes records. */
export function createChatroomProcessor(opts: ChatroomProcessorOptions): ChatroomProcessor {
  const { bus, hooks = {}, timers } = opts;
  const now = opts.now ?? Date.now;
  // Events of one room (and timers of one user) run one at a time here; CAS covers other processes.
  const queue = new KeyedQueue();
  const kvPromise = bus.kv(bus.names.buckets.rooms);
  const storePromise = kvPromise.then((kv) => new RoomStore(kv));
  let waiting = 0;

  async function publish(events: readonly Event[]): Promise<boolean[]> {
    const duplicates: boolean[] = [];
    for (const e of events) {
      const subject = bus.names.subjects.event(e.appId, e.type);
      const ack = await publishEvent(bus, subject, Event.encode(e).finish(), { msgId: e.id });
      hooks.derived?.(e.type, ack.duplicate);
      duplicates.push(ack.duplicate);
    }
    return duplicates;
  }

  /** The previous change's records, when its writer may have died before publishing them. */
  async function settlePrevious(meta: RoomMeta | undefined): Promise<void> {
    if (meta !== undefined && meta.outbox.writtenAt > now() - REPUBLISH_WITHIN_MS) {
      await publish(outboxEvents(meta.outbox));
    }
  }

  async function startIdleTimer(kv: KV, meta: RoomMeta): Promise<void> {
    if (timers.idleDestroyMs <= 0 || !meta.exists || meta.memberCount > 0) return;
    const timer: IdleTimer = { seq: meta.lastSeq, due: now() + timers.idleDestroyMs };
    await kv.put(roomKeys.idle(meta.appId, meta.roomId), encodeTimer(timer));
  }

  async function foldRoomEvent(event: Event, d: Delivery): Promise<void> {
    const store = await storePromise;
    const roomId = roomChange(event)?.roomId ?? "";
    if (roomId === "") {
      const fold = foldRoom(undefined, new Set(), event, d.seq, now());
      if (fold.outcome === "rejected") {
        hooks.rejected?.(fold.reason);
        await publish([fold.derived]);
      }
      return;
    }
    let waited = false;
    for (let attempt = 1; attempt <= CAS_ATTEMPTS; attempt++) {
      const loaded = await store.load(event.appId, roomId);
      if (loaded.fresh) await settlePrevious(loaded.meta);
      const fold = foldRoom(loaded.meta, loaded.members, event, d.seq, now());
      switch (fold.outcome) {
        case "duplicate":
          // A redelivery of the last change: its writer may have died before publishing.
          if (loaded.meta?.outbox.seq === d.seq && !loaded.fresh) await settlePrevious(loaded.meta);
          store.remember(loaded);
          return;
        case "stale_auto":
          hooks.staleAutomatic?.();
          store.remember(loaded);
          return;
        case "rejected":
          // A rejection stands only on fresh state, and once every earlier event is settled: a
          // replica may still be applying the join that this leave follows.
          if (!loaded.fresh || (!waited && opts.earlierSettled !== undefined)) {
            if (loaded.fresh) waited = await waitForEarlier(d, roomKeys.room(event.appId, roomId));
            store.forget(roomKeys.room(event.appId, roomId));
            attempt--;
            continue;
          }
          hooks.rejected?.(fold.reason);
          await publish([fold.derived]);
          store.remember(loaded);
          return;
        case "applied": {
          // Long changes (big batches, destroys) keep the server from redelivering meanwhile.
          const { outbox } = fold.meta;
          if (outbox.destroyed || outbox.joined.length + outbox.left.length > LONG_CHANGE_USERS) d.working();
          const written = await store.write(loaded, fold.meta);
          if (written === undefined) {
            hooks.conflict?.();
            continue;
          }
          // The meta holds the change: keys and record may go out together (a crash redoes both).
          await Promise.all([store.applyOutbox(fold.meta), publish([fold.derived])]);
          await startIdleTimer(store.kv, fold.meta);
          store.remember(written);
          return;
        }
      }
    }
    throw new RoomConflictError(roomKeys.room(event.appId, roomId), CAS_ATTEMPTS);
  }

  /**
   * Waits (bounded) until every event before `d` is acked. Waiters hold consumer slots, so only a
   * few wait at once; the others go back to the stream and come again (RoomOrderPendingError).
   */
  async function waitForEarlier(d: Delivery, key: string): Promise<boolean> {
    const settled = opts.earlierSettled;
    if (settled === undefined || (await settled(d.seq))) return true;
    if (waiting >= (opts.maxWaiting ?? 1)) throw new RoomOrderPendingError(key, d.seq);
    waiting++;
    try {
      for (let i = 0; i < EARLIER_POLLS && !(await settled(d.seq)); i++) {
        d.working();
        await sleep(EARLIER_POLL_MS);
      }
    } finally {
      waiting--;
    }
    return true;
  }

  async function sweepKick(kv: KV, key: string): Promise<void> {
    const entry = await kv.get(key);
    if (entry === null || entry.operation !== "PUT") return;
    const timer = decodeTimer<KickTimer>(entry.string());
    if (timer !== undefined && timer.due > now()) return;
    if (timer !== undefined) {
      const appId = roomKeys.idAt(key, 1);
      const userId = roomKeys.lastId(key);
      const rooms: string[] = [];
      for await (const k of await kv.keys(roomKeys.userRooms(appId, userId))) rooms.push(roomKeys.lastId(k));
      const dup = await publish(rooms.map((roomId) => kickEvent(appId, userId, roomId, timer)));
      for (const duplicate of dup) hooks.automatic?.("kick", duplicate);
    }
    // CAS: a newer offline written meanwhile is kept for the next sweep.
    await kv.delete(key, { previousSeq: entry.revision }).catch(() => undefined);
  }

  async function sweepIdle(kv: KV, key: string): Promise<void> {
    const entry = await kv.get(key);
    if (entry === null || entry.operation !== "PUT") return;
    const timer = decodeTimer<IdleTimer>(entry.string());
    if (timer !== undefined && timer.due > now()) return;
    if (timer !== undefined) {
      const appId = roomKeys.idAt(key, 1);
      const roomId = roomKeys.lastId(key);
      const store = await storePromise;
      const loaded = await store.load(appId, roomId);
      // The fold refuses it too when the room filled up; checking first saves the publish.
      if (
        loaded.meta?.exists === true &&
        loaded.meta.memberCount === 0 &&
        loaded.meta.lastSeq === timer.seq
      ) {
        const [duplicate] = await publish([idleDestroyEvent(appId, roomId, timer)]);
        hooks.automatic?.("idle_destroy", duplicate === true);
      }
    }
    await kv.delete(key, { previousSeq: entry.revision }).catch(() => undefined);
  }

  return {
    async handleRoomEvent(d) {
      const event = decode(d);
      const p = event.payload;
      // room.status and room.rejected share the room.> subjects: they are this service's own output.
      if (p === undefined || DERIVED_PAYLOAD_CASES.has(p.$case)) return;
      if (roomChange(event) === undefined) return;
      hooks.folded?.(event.type);
      const roomId = roomChange(event)?.roomId ?? "";
      await queue.run(roomId === "" ? "" : roomKeys.room(event.appId, roomId), () => foldRoomEvent(event, d));
    },

    async handleUserEvent(d) {
      if (timers.kickAfterMs <= 0) return;
      const event = decode(d);
      const p = event.payload;
      if (p?.$case !== "userOnline" && p?.$case !== "userOffline") return;
      const kv = await kvPromise;
      const key = roomKeys.kick(event.appId, p.value.userId);
      await queue.run(key, async () => {
        const entry = await kv.get(key);
        const live = entry !== null && entry.operation === "PUT";
        const current = live ? decodeTimer<KickTimer>(entry.string()) : undefined;
        if (current !== undefined && current.seq >= p.value.seq) return;
        if (p.$case === "userOnline") {
          if (live) await kv.delete(key, { previousSeq: entry.revision }).catch(() => undefined);
          return;
        }
        const timer = kickTimerFor(event, timers, now());
        if (timer === undefined) return;
        const data = encodeTimer(timer);
        // CAS: of two replicas folding offlines of one user at once, the higher seq wins on retry.
        if (live) await kv.update(key, data, entry.revision);
        else await kv.create(key, data);
      });
    },

    async sweep() {
      const kv = await kvPromise;
      const kicks: string[] = [];
      const idle: string[] = [];
      if (timers.kickAfterMs > 0) for await (const k of await kv.keys(roomKeys.allKicks())) kicks.push(k);
      if (timers.idleDestroyMs > 0) for await (const k of await kv.keys(roomKeys.allIdle())) idle.push(k);
      for (const key of kicks) await queue.run(key, () => sweepKick(kv, key));
      for (const key of idle) {
        const roomKey = roomKeys.room(roomKeys.idAt(key, 1), roomKeys.lastId(key));
        await queue.run(roomKey, () => sweepIdle(kv, key));
      }
      return kicks.length + idle.length;
    },
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function decode(d: Delivery): Event {
  try {
    return Event.decode(d.data);
  } catch (err) {
    throw new TerminalError(`stored event at ${d.seq} is not a protobuf Event`, { cause: err });
  }
}
