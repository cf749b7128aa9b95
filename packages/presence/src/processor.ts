import { Event } from "@herald/proto";
import { publishEvent, KeyedQueue } from "@herald/bus";
import type { Bus, Delivery } from "@herald/bus";
import { TerminalError } from "@herald/runtime";
import type { Logger } from "@herald/runtime";
import type { KV } from "@nats-io/kv";
import { expireGrace, foldPresence, presenceUserId } from "./fold.js";
import type { PresenceAnomaly } from "./fold.js";
import { presenceKeys } from "./keys.js";
import { NodeResetCache } from "./node-resets.js";
import { emptyUserState, graceDue, outboxEvents } from "./state.js";
import { StateCache, casFold } from "./store.js";
import type { CasFoldResult } from "./store.js";

/** Counters the service keeps; every hook is optional. */
export interface PresenceHooks {
  folded?(type: string): void;
  derived?(type: string, duplicate: boolean): void;
  anomaly?(kind: PresenceAnomaly): void;
  conflict?(): void;
}

export interface PresenceProcessorOptions {
  bus: Bus;
  log: Logger;
  /** Grace period for abnormal disconnects, in ms (0: off). */
  graceMs: number;
  hooks?: PresenceHooks;
  /** The clock; Date.now by default. */
  now?: () => number;
}

export interface PresenceProcessor {
  /** Folds one stored event; resolves once the state is written and its derived events are stored. */
  handle(d: Delivery): Promise<void>;
  /**
   * Ends the grace periods due by `foldedUntil` (default now): a time before which every stored
   * connection event has been folded, so no reconnect that came in time is still unread.
   * Resolves with the number of users looked at.
   */
  sweepGrace(foldedUntil?: number): Promise<number>;
  /** Stops following node resets. */
  close(): Promise<void>;
}

// Within the stream's duplicate window (2 min), with room for the ack wait of a redelivery.
const REPUBLISH_WITHIN_MS = 60_000;
// Users of one reset folded at once.
const RESET_PARALLELISM = 32;

/** The work of the presence service for one process: folds, writes with CAS, publishes derived events. */
export function createPresenceProcessor(opts: PresenceProcessorOptions): PresenceProcessor {
  const { bus, hooks = {} } = opts;
  const now = opts.now ?? Date.now;
  // Events of one user are folded one at a time in this process; CAS covers other processes.
  const queue = new KeyedQueue();
  const kvPromise = bus.kv(bus.names.buckets.presence);
  const resetsPromise = kvPromise.then((kv) => NodeResetCache.start(kv, opts.log));
  const conflict = () => hooks.conflict?.();
  const published = new RecentIds(REPUBLISH_WITHIN_MS);
  const states = new StateCache();

  async function publishDerived(events: readonly Event[]): Promise<void> {
    for (const e of events) {
      const ack = await publishEvent(
        bus,
        bus.names.subjects.event(e.appId, e.type),
        Event.encode(e).finish(),
        {
          msgId: e.id,
        },
      );
      published.remember(e.id, now());
      hooks.derived?.(e.type, ack.duplicate);
    }
  }

  /**
   * Publishes what a fold derived. A change whose writer died before publishing is published
   * again: by the retry of its own cause (same outbox cause), or by the next change of the user
   * (the previous outbox, while the stream's dedup window still covers it).
   */
  async function settle(result: CasFoldResult, causeKey: string): Promise<void> {
    if (result.anomaly !== undefined) hooks.anomaly?.(result.anomaly);
    if (!result.changed) {
      if (result.state.outbox.cause === causeKey) await publishDerived(outboxEvents(result.state.outbox));
      return;
    }
    const previous = result.previous?.outbox;
    if (previous !== undefined && previous.events.length > 0 && previous.at > now() - REPUBLISH_WITHIN_MS) {
      await publishDerived(outboxEvents(previous).filter((e) => !published.has(e.id)));
    }
    await publishDerived(result.derived);
  }

  async function ensureGraceKey(kv: KV, result: CasFoldResult): Promise<void> {
    const due = graceDue(result.state);
    if (due !== undefined) {
      await kv.put(presenceKeys.grace(result.state.appId, result.state.userId), String(due));
    }
  }

  async function handleUserEvent(kv: KV, event: Event, userId: string, d: Delivery): Promise<void> {
    const key = presenceKeys.user(event.appId, userId);
    await queue.run(key, async () => {
      const p = event.payload;
      let resetSeq: number | undefined;
      if (p?.$case === "connectionOnline") {
        resetSeq = (await resetsPromise).get(event.appId, p.value.nodeId);
        // The index comes first, so a node reset never misses a connection that the state holds.
        await kv.put(presenceKeys.nodeUser(event.appId, p.value.nodeId, userId), "");
      }
      const result = await casFold(
        kv,
        key,
        (state) =>
          foldPresence(state, event, d.seq, now(), {
            graceMs: opts.graceMs,
            ...(resetSeq === undefined ? {} : { nodeResetSeq: resetSeq }),
          }),
        conflict,
        states,
        // A connection coming online is the likeliest first sight of a user.
        p?.$case === "connectionOnline",
      );
      await settle(result, `seq:${d.seq}`);
      if (result.changed || d.redelivered) await ensureGraceKey(kv, result);
    });
  }

  async function handleNodeReset(kv: KV, event: Event, nodeId: string, d: Delivery): Promise<void> {
    const resets = await resetsPromise;
    const known = resets.get(event.appId, nodeId);
    if (known === undefined || known < d.seq) {
      const resetKey = presenceKeys.nodeReset(event.appId, nodeId);
      await kv.put(resetKey, String(d.seq));
      resets.note(resetKey, d.seq);
    }
    const indexKeys: string[] = [];
    for await (const k of await kv.keys(presenceKeys.nodeUsers(event.appId, nodeId))) indexKeys.push(k);
    for (let i = 0; i < indexKeys.length; i += RESET_PARALLELISM) {
      d.working();
      await Promise.all(
        indexKeys.slice(i, i + RESET_PARALLELISM).map(async (indexKey) => {
          const userId = presenceKeys.lastId(indexKey);
          const key = presenceKeys.user(event.appId, userId);
          await queue.run(key, async () => {
            const result = await casFold(
              kv,
              key,
              (state) =>
                state === undefined
                  ? { state: emptyUserState(event.appId, userId), changed: false, derived: [] }
                  : foldPresence(state, event, d.seq, now()),
              conflict,
              states,
            );
            await settle(result, `seq:${d.seq}`);
            // A connection opened on the node after its reset keeps the index.
            const stillThere = Object.values(result.state.connections).some((c) => c.nodeId === nodeId);
            if (!stillThere) await kv.delete(indexKey);
          });
        }),
      );
    }
    opts.log.info({ appId: event.appId, nodeId, users: indexKeys.length }, "node reset folded");
  }

  return {
    async handle(d) {
      let event: Event;
      try {
        event = Event.decode(d.data);
      } catch (err) {
        throw new TerminalError(`stored event at ${d.seq} is not a protobuf Event`, { cause: err });
      }
      const kv = await kvPromise;
      const p = event.payload;
      const type = p?.$case ?? "none";
      hooks.folded?.(event.type || type);
      const userId = presenceUserId(event);
      if (userId !== undefined) {
        if (userId === "") {
          hooks.anomaly?.("missing_user_id");
          return;
        }
        await handleUserEvent(kv, event, userId, d);
      } else if (p?.$case === "nodeReset") {
        await handleNodeReset(kv, event, p.value.nodeId, d);
      } else if (p?.$case !== "nodeHeartbeat") {
        hooks.anomaly?.("not_a_presence_event");
      }
    },

    async close() {
      (await resetsPromise.catch(() => undefined))?.stop();
    },

    async sweepGrace(foldedUntil) {
      const until = Math.min(now(), foldedUntil ?? Infinity);
      const kv = await kvPromise;
      const keys: string[] = [];
      for await (const k of await kv.keys(presenceKeys.allGrace())) keys.push(k);
      for (const graceKey of keys) {
        const entry = await kv.get(graceKey);
        if (entry === null || entry.operation !== "PUT" || Number(entry.string()) > until) continue;
        const appId = presenceKeys.appId(graceKey);
        const userId = presenceKeys.lastId(graceKey);
        const key = presenceKeys.user(appId, userId);
        await queue.run(key, async () => {
          const at = until;
          const result = await casFold(
            kv,
            key,
            (state) =>
              state === undefined
                ? { state: emptyUserState(appId, userId), changed: false, derived: [] }
                : expireGrace(state, at),
            conflict,
            states,
          );
          if (result.changed || result.state.outbox.cause.startsWith("grace:")) {
            // A sweep that wrote the state may have died before publishing: ids make this a no-op otherwise.
            await settle(result, result.state.outbox.cause);
          }
          const next = graceDue(result.state);
          // CAS on the grace key: a newer grace period written meanwhile is kept for the next sweep.
          if (next === undefined)
            await kv.delete(graceKey, { previousSeq: entry.revision }).catch(() => undefined);
          else await kv.update(graceKey, String(next), entry.revision).catch(() => undefined);
        });
      }
      return keys.length;
    },
  };
}

/** Ids this process published lately, so the next change need not publish them again. */
class RecentIds {
  private readonly at = new Map<string, number>();
  constructor(private readonly keepMs: number) {}

  remember(id: string, now: number): void {
    this.at.set(id, now);
    // Map keeps insertion order: the oldest entries are first.
    for (const [old, t] of this.at) {
      if (t > now - this.keepMs) break;
      this.at.delete(old);
    }
  }

  has(id: string): boolean {
    return this.at.has(id);
  }
}
